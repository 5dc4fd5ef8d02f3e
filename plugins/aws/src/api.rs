//! AWS wire protocols: JSON 1.1 (Secrets Manager, SSM) and the error shapes of both JSON and
//! query (STS) APIs, mapped onto the host's error variants.

use ampoule_sdk::http::{HttpError, Request, Response};
use ampoule_sdk::{ProviderError, RateLimit};
use serde_json::Value;

use crate::sigv4::{self, Credentials};
use crate::time;

/// A failed AWS call: the operation, HTTP status and AWS error code/message.
#[derive(Debug)]
pub struct AwsError {
    pub op: &'static str,
    pub status: u16,
    pub code: String,
    pub message: String,
    pub retry_after: Option<u32>,
}

impl AwsError {
    pub fn into_provider(self) -> ProviderError {
        let text = format!(
            "{}: {} (HTTP {}): {}",
            self.op, self.code, self.status, self.message
        );
        match self.code.as_str() {
            "UnrecognizedClientException"
            | "InvalidSignatureException"
            | "IncompleteSignature"
            | "SignatureDoesNotMatch"
            | "InvalidClientTokenId"
            | "ExpiredToken"
            | "ExpiredTokenException"
            | "MissingAuthenticationToken"
            | "InvalidIdentityToken"
            | "IDPRejectedClaim" => ProviderError::Unauthorized(text),
            "AccessDenied" | "AccessDeniedException" => ProviderError::Forbidden(text),
            "ThrottlingException"
            | "Throttling"
            | "TooManyRequestsException"
            | "RequestLimitExceeded"
            | "ThrottledException" => ProviderError::RateLimited(RateLimit {
                message: text,
                retry_after_secs: self.retry_after,
            }),
            _ if self.status >= 500 => ProviderError::Unavailable(text),
            _ if self.status == 401 => ProviderError::Unauthorized(text),
            _ if self.status == 403 => ProviderError::Forbidden(text),
            _ => ProviderError::Internal(text),
        }
    }
}

/// Reads the error code and message from a JSON (`__type`) or XML (`<Code>`) error body.
pub fn error_of(op: &'static str, resp: &Response) -> AwsError {
    let body = String::from_utf8_lossy(&resp.body);
    let (code, message) = match serde_json::from_str::<Value>(&body) {
        Ok(v) => {
            let code = v
                .get("__type")
                .or_else(|| v.get("code"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            let code = code
                .rsplit('#')
                .next()
                .unwrap_or_default()
                .split(':')
                .next()
                .unwrap_or_default();
            let msg = ["message", "Message"]
                .iter()
                .find_map(|k| v.get(*k))
                .and_then(Value::as_str)
                .unwrap_or_default();
            (code.to_owned(), msg.to_owned())
        }
        Err(_) => (
            xml_text(&body, "Code").unwrap_or_default(),
            xml_text(&body, "Message").unwrap_or_default(),
        ),
    };
    let code = if code.is_empty() {
        format!("HTTP{}", resp.status)
    } else {
        code
    };
    AwsError {
        op,
        status: resp.status,
        code,
        message: truncate(&message),
        retry_after: resp.retry_after(),
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(300).collect()
}

/// The text of the first `<tag>…</tag>` (no attributes, no nesting of the same tag).
pub fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    Some(unescape_xml(&xml[start..end]))
}

fn unescape_xml(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// A request that got no response (egress denied, timeout, connection failure), with the
/// operation and endpoint in the message so the event says which host was refused.
pub fn transport_error(op: &str, endpoint: &str, e: HttpError) -> ProviderError {
    let context = format!("{op} {}", endpoint.trim_end_matches('/'));
    match ProviderError::from(e) {
        ProviderError::Forbidden(m) => ProviderError::Forbidden(format!("{context}: {m}")),
        ProviderError::InvalidConfig(m) => ProviderError::InvalidConfig(format!("{context}: {m}")),
        ProviderError::Unavailable(m) => ProviderError::Unavailable(format!("{context}: {m}")),
        other => other,
    }
}

/// A JSON 1.1 service: endpoint, signing name, target prefix, region and credentials.
pub struct JsonService<'a> {
    pub endpoint: String,
    pub signing_name: &'a str,
    pub target_prefix: &'a str,
    pub region: &'a str,
    pub creds: &'a Credentials,
}

pub enum CallError {
    Aws(AwsError),
    Provider(ProviderError),
}

impl From<CallError> for ProviderError {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Aws(e) => e.into_provider(),
            CallError::Provider(e) => e,
        }
    }
}

impl JsonService<'_> {
    pub fn call(&self, op: &'static str, body: &Value) -> Result<Value, CallError> {
        let mut req = Request::new("POST", &format!("{}/", self.endpoint.trim_end_matches('/')))
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", &format!("{}.{op}", self.target_prefix))
            .body(body.to_string());
        sigv4::sign(
            &mut req,
            self.creds,
            self.region,
            self.signing_name,
            &time::amz_date(time::now()),
        );
        let resp = req
            .send()
            .map_err(|e| CallError::Provider(transport_error(op, &self.endpoint, e)))?;
        if !resp.is_success() {
            return Err(CallError::Aws(error_of(op, &resp)));
        }
        serde_json::from_slice(&resp.body).map_err(|e| {
            CallError::Provider(ProviderError::Internal(format!("{op}: bad response: {e}")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn json_and_xml_errors() {
        let e = error_of(
            "GetSecretValue",
            &resp(
                400,
                r#"{"__type":"com.amazonaws#ResourceNotFoundException","Message":"gone"}"#,
            ),
        );
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("ResourceNotFoundException", "gone")
        );
        let e = error_of(
            "AssumeRole",
            &resp(
                403,
                "<ErrorResponse><Error><Code>AccessDenied</Code><Message>no &amp; never</Message></Error></ErrorResponse>",
            ),
        );
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("AccessDenied", "no & never")
        );
        assert!(matches!(e.into_provider(), ProviderError::Forbidden(_)));
        let e = error_of(
            "X",
            &resp(
                400,
                r#"{"__type":"UnrecognizedClientException","message":"bad"}"#,
            ),
        );
        assert!(matches!(e.into_provider(), ProviderError::Unauthorized(_)));
    }

    #[test]
    fn transport_errors_name_the_endpoint() {
        let e = transport_error(
            "GetSecretValue",
            "https://secretsmanager.eu-west-3.amazonaws.com/",
            HttpError::Denied,
        );
        assert!(
            matches!(&e, ProviderError::Forbidden(m) if m == "GetSecretValue https://secretsmanager.eu-west-3.amazonaws.com: request denied by the sandbox egress policy"),
            "{e:?}"
        );
    }
}
