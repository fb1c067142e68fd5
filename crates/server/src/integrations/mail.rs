//! Outgoing mail (api.md §12): SMTP through `lettre` when `OPENSCOUTER_SMTP_URL` is set, else
//! an `.eml` file per mail in `<data dir>/outbox/` (the embedded default, so a new install
//! needs nothing). Only the `send_mail` queue item sends, so a dead SMTP server loses nothing:
//! the item is retried.

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

/// One mail, with its plain-text and HTML parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Where mail goes.
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends `mail`; the error is safe to log (it never holds the mail's body).
    async fn send(&self, mail: &Mail) -> Result<(), String>;
    /// `smtp` or `outbox`, for logs.
    fn kind(&self) -> &'static str;
}

/// The MIME message of `mail` from `from` (multipart/alternative: text, then HTML).
pub fn message(from: &str, mail: &Mail) -> Result<Message, String> {
    let from: Mailbox = from.parse().map_err(|e| format!("bad From address: {e}"))?;
    let to: Mailbox = mail.to.parse().map_err(|e| format!("bad recipient address: {e}"))?;
    Message::builder()
        .from(from)
        .to(to)
        .subject(mail.subject.clone())
        .multipart(MultiPart::alternative_plain_html(mail.text.clone(), mail.html.clone()))
        .map_err(|e| format!("cannot build the message: {e}"))
}

/// SMTP (`smtp://host:port`, `smtps://user:pass@host:465`, `?tls=required` for STARTTLS).
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: String,
}

impl SmtpMailer {
    pub fn new(url: &SecretString, from: &str) -> Result<Self, String> {
        super::install_crypto();
        // The URL may hold a password: its parse error is reported without it.
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
            .map_err(|_| "OPENSCOUTER_SMTP_URL is not a valid SMTP URL".to_owned())?
            .timeout(Some(Duration::from_secs(30)))
            .build();
        Ok(Self { transport, from: from.to_owned() })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: &Mail) -> Result<(), String> {
        let msg = message(&self.from, mail)?;
        self.transport.send(msg).await.map(|_| ()).map_err(|e| format!("SMTP: {e}"))
    }

    fn kind(&self) -> &'static str {
        "smtp"
    }
}

/// Files in a folder: `<time>-<random>.eml`, written whole then renamed, so a reader never
/// sees half a mail.
pub struct OutboxMailer {
    dir: PathBuf,
    from: String,
}

impl OutboxMailer {
    pub fn new(dir: PathBuf, from: &str) -> Self {
        Self { dir, from: from.to_owned() }
    }
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, mail: &Mail) -> Result<(), String> {
        let bytes = message(&self.from, mail)?.formatted();
        let dir = self.dir.clone();
        let name = format!(
            "{}-{}.eml",
            chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ"),
            crate::auth::secrets::new_hex_token(6)
        );
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create the outbox: {e}"))?;
            let tmp = dir.join(format!(".{name}.tmp"));
            std::fs::write(&tmp, &bytes).map_err(|e| format!("cannot write to the outbox: {e}"))?;
            std::fs::rename(&tmp, dir.join(&name)).map_err(|e| format!("cannot write to the outbox: {e}"))
        })
        .await
        .map_err(|e| format!("outbox writer stopped: {e}"))?
    }

    fn kind(&self) -> &'static str {
        "outbox"
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_mail_has_a_text_and_an_html_part() {
        let mail = Mail {
            to: "ada@example.com".into(),
            subject: "Reset your password".into(),
            text: "Open https://x.test/a".into(),
            html: "<p><a href=\"https://x.test/a\">Reset</a></p>".into(),
        };
        let raw =
            String::from_utf8(message("OpenScouter <no-reply@x.test>", &mail).unwrap().formatted()).unwrap();
        assert!(raw.contains("multipart/alternative"));
        assert!(raw.contains("text/plain"));
        assert!(raw.contains("text/html"));
        assert!(raw.contains("Subject: Reset your password"));
        assert!(message("nobody", &mail).is_err());
    }
}
