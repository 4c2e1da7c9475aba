//! One IMAP connection: TCP, TLS from the first byte or after STARTTLS
//! (certificates checked against `trust`), the greeting, and the login with
//! a password or an XOAUTH2 token.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_imap::{Authenticator, Client, Session};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::rustls::pki_types::ServerName;

use super::{ImapError, ImapResult};
use crate::config::{ImapConfig, ImapLogin, TlsMode, run_secret_command};

/// Connects, upgrades to TLS as configured, and logs in.
pub(super) async fn connect(config: &ImapConfig) -> ImapResult<Session<ImapStream>> {
    let address = (config.host.as_str(), config.port);
    let tcp = timeout(config.timeout, TcpStream::connect(address))
        .await
        .map_err(|_| ImapError::Timeout(config.timeout))??;
    let mut client = match config.tls {
        TlsMode::Tls => Client::new(ImapStream::Tls(Box::new(tls(tcp, config).await?))),
        TlsMode::None => Client::new(ImapStream::Plain(tcp)),
        TlsMode::StartTls => {
            let mut plain = Client::new(tcp);
            greeting(&mut plain, config.timeout).await?;
            timeout(config.timeout, plain.run_command_and_check_ok("STARTTLS", None))
                .await
                .map_err(|_| ImapError::Timeout(config.timeout))??;
            Client::new(ImapStream::Tls(Box::new(tls(plain.into_inner(), config).await?)))
        }
    };
    if config.tls != TlsMode::StartTls {
        greeting(&mut client, config.timeout).await?;
    }
    let login = async {
        match &config.login {
            ImapLogin::Password(secret) => {
                let password = secret.read()?;
                client.login(&config.username, password).await.map_err(|(error, _)| ImapError::from(error))
            }
            ImapLogin::XOAuth2 { token_command } => {
                let token = run_secret_command(token_command)?;
                let authenticator = XOAuth2 { user: config.username.clone(), token };
                client.authenticate("XOAUTH2", authenticator).await.map_err(|(error, _)| ImapError::from(error))
            }
        }
    };
    timeout(config.timeout, login).await.map_err(|_| ImapError::Timeout(config.timeout))?
}

async fn greeting<T: AsyncRead + AsyncWrite + Unpin + fmt::Debug + Send>(
    client: &mut Client<T>,
    limit: Duration,
) -> ImapResult<()> {
    match timeout(limit, client.read_response()).await.map_err(|_| ImapError::Timeout(limit))?? {
        Some(_) => Ok(()),
        None => Err(ImapError::Other("the server closed the connection before greeting".into())),
    }
}

/// TLS with the server, verified against the system's authorities and
/// `ca_file`; the server's name goes out as SNI. A refused certificate is
/// said as what to fix.
async fn tls(tcp: TcpStream, config: &ImapConfig) -> ImapResult<TlsStream<TcpStream>> {
    let host = &config.host;
    let roots = crate::trust::roots(config.ca_file.as_deref()).map_err(ImapError::Other)?;
    let client = ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    let name = ServerName::try_from(host.to_string()).map_err(|error| ImapError::Other(error.to_string()))?;
    TlsConnector::from(Arc::new(client)).connect(name, tcp).await.map_err(|error| {
        match crate::trust::explain(host, &error) {
            Some(problem) => ImapError::Other(problem),
            None => ImapError::Io(error),
        }
    })
}

/// SASL XOAUTH2, as Microsoft 365 and Google Workspace expect it.
struct XOAuth2 {
    user: String,
    token: String,
}

impl Authenticator for XOAuth2 {
    type Response = String;

    fn process(&mut self, _challenge: &[u8]) -> String {
        format!("user={}\x01auth=Bearer {}\x01\x01", self.user, self.token)
    }
}

/// A plain or TLS connection, one type for the IMAP client.
#[derive(Debug)]
pub enum ImapStream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for ImapStream {
    fn poll_read(self: Pin<&mut Self>, context: &mut Context<'_>, buffer: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ImapStream::Plain(stream) => Pin::new(stream).poll_read(context, buffer),
            ImapStream::Tls(stream) => Pin::new(stream.as_mut()).poll_read(context, buffer),
        }
    }
}

impl AsyncWrite for ImapStream {
    fn poll_write(self: Pin<&mut Self>, context: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ImapStream::Plain(stream) => Pin::new(stream).poll_write(context, data),
            ImapStream::Tls(stream) => Pin::new(stream.as_mut()).poll_write(context, data),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ImapStream::Plain(stream) => Pin::new(stream).poll_flush(context),
            ImapStream::Tls(stream) => Pin::new(stream.as_mut()).poll_flush(context),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ImapStream::Plain(stream) => Pin::new(stream).poll_shutdown(context),
            ImapStream::Tls(stream) => Pin::new(stream.as_mut()).poll_shutdown(context),
        }
    }
}
