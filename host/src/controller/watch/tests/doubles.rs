//! A renderer for objects without templates (the backend is [`crate::controller::counting`]).

use futures::future::BoxFuture;

use crate::transform::{RenderRequest, Rendered, TransformError, Transformer};

/// The ExternalSecrets of these tests have no templates: a render is a test failure.
pub(super) struct NoTemplates;

impl Transformer for NoTemplates {
    fn render(&self, _: RenderRequest) -> BoxFuture<'_, Result<Rendered, TransformError>> {
        Box::pin(async {
            Err(TransformError::Sandbox(
                "no templates in these tests".into(),
            ))
        })
    }
    fn rewrite_keys(
        &self,
        _: String,
        _: Vec<String>,
    ) -> BoxFuture<'_, Result<Vec<String>, TransformError>> {
        Box::pin(async {
            Err(TransformError::Sandbox(
                "no templates in these tests".into(),
            ))
        })
    }
}
