use super::*;

#[track_caller]
fn check(body: &str, expected: &str) {
    assert_eq!(new_text(body, None), expected);
}

#[test]
fn keeps_plain_text() {
    check("Firewall rules updated.\n\nNo new alerts.\n", "Firewall rules updated.\n\nNo new alerts.");
}

#[test]
fn drops_top_posted_gmail_history() {
    check(
        "Blocked the sender domain.\n\nOn Fri, Nov 27, 2026 at 10:02 AM Alice Morgan <\nalice@company.test> wrote:\n> Phishing mail seen\n> in finance.\n",
        "Blocked the sender domain.",
    );
}

#[test]
fn keeps_interleaved_answers() {
    check(
        "On 27/11/2026 10:02, Alice wrote:\n> Which hosts?\nFS01 and FS02.\n> Since when?\nSince 09:40.\n",
        "FS01 and FS02.\nSince 09:40.",
    );
}

#[test]
fn stops_at_unmarked_history() {
    check(
        "Reset done.\n\nOn Fri, 27 Nov 2026 at 10:02, Alice Morgan wrote:\nPhishing mail seen in finance.\n",
        "Reset done.",
    );
}

#[test]
fn keeps_prose_that_ends_with_wrote() {
    check("Here is what the attacker wrote:\nPay 2 BTC.\n", "Here is what the attacker wrote:\nPay 2 BTC.");
}

#[test]
fn stops_at_outlook_header_block_and_separators() {
    check(
        "Done.\r\n\r\nFrom: Alice Morgan <alice@company.test>\r\nSent: Friday, November 27, 2026 10:02 AM\r\nTo: incident@company.test\r\nSubject: Phishing\r\n\r\nOld text\r\n",
        "Done.",
    );
    check("Done.\n-----Original Message-----\nOld\n", "Done.");
    check("Done.\n---------- Forwarded message ---------\nOld\n", "Done.\n---------- Forwarded message ---------\nOld");
    check("Done.\n________________________________\nVon: Alice\n", "Done.");
}

#[test]
fn a_from_line_alone_is_prose() {
    check("From: the SOC we heard nothing.\nStill waiting.\n", "From: the SOC we heard nothing.\nStill waiting.");
}

#[test]
fn drops_signatures_and_mobile_footers() {
    check("Contained.\n-- \nAlice Morgan\nIT\n", "Contained.");
    check("Contained.\n\nSent from my iPhone\n\n> old\n", "Contained.");
    check("Contained.\n\nVon meinem iPhone gesendet\n", "Contained.");
    check("Sent from the finance laptop, we think.\n", "Sent from the finance laptop, we think.");
}

#[test]
fn attribution_first_words_fit_the_quick_check() {
    for language in LANGUAGES {
        for word in language.attribution_start {
            assert!(word.chars().count() <= LONGEST_START_WORD, "{word}");
        }
    }
}

#[test]
fn unflows_format_flowed() {
    let body = "The VPN logs show a login \r\nfrom an unknown address.\r\n\r\n> quoted \r\n> text\r\n-- \r\nAlice\r\n";
    assert_eq!(
        new_text(body, Some(Flowed { delete_space: false })),
        "The VPN logs show a login from an unknown address."
    );
    assert_eq!(new_text("split wo \r\nrd\r\n", Some(Flowed { delete_space: true })), "split word");
}
