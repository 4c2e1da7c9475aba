//! The tera adapter: the only module that knows templates. Templates ship
//! inside the binary; a file of the same name in `[templates] dir` wins.

use std::path::Path;

use serde::Serialize;
use tera::{Context, Tera};

const TEMPLATES: &[(&str, &str)] = &[
    ("ack.txt", include_str!("../templates/ack.txt.tera")),
    ("refused.txt", include_str!("../templates/refused.txt.tera")),
    ("quarantined.txt", include_str!("../templates/quarantined.txt.tera")),
];

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("template {name}: {message}")]
    Template { name: String, message: String },
    #[error("cannot read template {path}: {source}")]
    Read { path: String, source: std::io::Error },
}

pub struct Renderer {
    tera: Tera,
}

#[derive(Debug, Serialize)]
pub struct AckView<'a> {
    pub incident: String,
    pub title: &'a str,
    pub declared_by: &'a str,
    pub declared_at: String,
    pub executives: String,
    pub address: String,
}

#[derive(Debug, Serialize)]
pub struct NoticeView<'a> {
    pub address: String,
    pub reason: &'a str,
}

impl Renderer {
    pub fn new(override_dir: Option<&Path>) -> Result<Renderer, RenderError> {
        let mut tera = Tera::new();
        for (name, embedded) in TEMPLATES {
            let file = override_dir.map(|dir| dir.join(format!("{name}.tera")));
            let text = match file {
                Some(path) if path.exists() => std::fs::read_to_string(&path)
                    .map_err(|source| RenderError::Read { path: path.display().to_string(), source })?,
                _ => embedded.to_string(),
            };
            tera.add_raw_template(name, &text)
                .map_err(|error| RenderError::Template { name: name.to_string(), message: error.to_string() })?;
        }
        Ok(Renderer { tera })
    }

    pub fn ack(&self, view: &AckView<'_>) -> Result<String, RenderError> {
        self.render("ack.txt", view)
    }

    pub fn refused(&self, view: &NoticeView<'_>) -> Result<String, RenderError> {
        self.render("refused.txt", view)
    }

    pub fn quarantined(&self, view: &NoticeView<'_>) -> Result<String, RenderError> {
        self.render("quarantined.txt", view)
    }

    fn render(&self, name: &str, view: &impl Serialize) -> Result<String, RenderError> {
        let failed = |message: String| RenderError::Template { name: name.to_string(), message };
        let context = Context::from_serialize(view).map_err(|error| failed(error.to_string()))?;
        self.tera.render(name, &context).map_err(|error| failed(format!("{error:#}")))
    }
}
