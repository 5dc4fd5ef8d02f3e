//! Errors, worded as Go's `text/template` words them.

/// A template failed to parse or to execute. The message is Go's text, e.g.
/// `template: t:1:3: executing "t" at <.foo>: map has no entry for key "foo"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The template text is not a valid template.
    #[error("{0}")]
    Parse(String),
    /// Executing the template failed.
    #[error("{0}")]
    Execute(String),
}

impl Error {
    /// A bounded label for metrics and event reasons.
    pub fn category(&self) -> &'static str {
        match self {
            Error::Parse(_) => "TemplateParse",
            Error::Execute(_) => "TemplateExecute",
        }
    }
}
