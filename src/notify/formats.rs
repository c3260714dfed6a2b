//! The chat formats: one function per format turns a [`Message`] into the JSON body
//! its incoming webhook documents, with the same colour for the same meaning.

use serde_json::{Value, json};

use super::{Message, Severity};

/// A chat's webhook format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JANDI incoming webhook (the original tool's chat).
    Jandi,
    /// Slack incoming webhook: `text` and `blocks`.
    Slack,
    /// Microsoft Teams Workflows webhook: a message with an Adaptive Card.
    Teams,
    /// Discord webhook: `content` and `embeds`.
    Discord,
    /// Google Chat webhook: `text` and `cardsV2`.
    GoogleChat,
}

impl Format {
    /// Parses a format name.
    pub fn parse(text: &str) -> Result<Format, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "jandi" => Ok(Format::Jandi),
            "slack" => Ok(Format::Slack),
            "teams" => Ok(Format::Teams),
            "discord" => Ok(Format::Discord),
            "googlechat" | "google-chat" | "gchat" => Ok(Format::GoogleChat),
            other => Err(format!(
                "unknown webhook format \"{other}\" (jandi, slack, teams, discord, googlechat)"
            )),
        }
    }

    /// Recognises the format from the webhook URL's host, where it is unambiguous.
    pub fn recognise(url: &str) -> Option<Format> {
        let rest = url.split_once("://").map_or(url, |(_, r)| r);
        let host = rest
            .split(['/', '?'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let host = host
            .rsplit('@')
            .next()
            .unwrap_or("")
            .split(':')
            .next()
            .unwrap_or("");
        let is = |domain: &str| host == domain || host.ends_with(&format!(".{domain}"));
        if is("jandi.com") {
            Some(Format::Jandi)
        } else if is("hooks.slack.com") {
            Some(Format::Slack)
        } else if is("discord.com") || is("discordapp.com") {
            Some(Format::Discord)
        } else if is("chat.googleapis.com") {
            Some(Format::GoogleChat)
        } else if is("logic.azure.com") || is("powerplatform.com") || is("webhook.office.com") {
            Some(Format::Teams)
        } else {
            None
        }
    }

    /// The format's name.
    pub fn name(self) -> &'static str {
        match self {
            Format::Jandi => "jandi",
            Format::Slack => "slack",
            Format::Teams => "teams",
            Format::Discord => "discord",
            Format::GoogleChat => "googlechat",
        }
    }

    /// Headers beyond `Content-Type: application/json`.
    pub fn headers(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Format::Jandi => &[("Accept", "application/vnd.tosslab.jandi-v2+json")],
            _ => &[],
        }
    }

    /// The request body for `m`.
    pub fn body(self, m: &Message) -> Value {
        match self {
            Format::Jandi => jandi(m),
            Format::Slack => slack(m),
            Format::Teams => teams(m),
            Format::Discord => discord(m),
            Format::GoogleChat => google_chat(m),
        }
    }
}

/// Cuts `text` to at most `max` characters, marking the cut.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

fn jandi(m: &Message) -> Value {
    json!({
        "body": m.title,
        "connectColor": m.severity.colour(),
        "connectInfo": m.fields.iter().map(|f| json!({"title": f.title, "description": f.text})).collect::<Vec<_>>(),
    })
}

fn slack(m: &Message) -> Value {
    let mark = match m.severity {
        Severity::Ok => ":large_green_circle:",
        Severity::Warning => ":large_yellow_circle:",
        Severity::Error => ":red_circle:",
    };
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": cut(&format!("{} {}", emoji(m.severity), m.title), 150)},
    })];
    // Slack allows 50 blocks; one section per field, the rest folded into the last.
    for f in m.fields.iter().take(48) {
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": cut(&format!("*{}*\n{}", f.title, f.text), 3000)},
        }));
    }
    json!({"text": format!("{mark} {}", m.title), "blocks": blocks})
}

fn emoji(s: Severity) -> &'static str {
    match s {
        Severity::Ok => "🟢",
        Severity::Warning => "🟡",
        Severity::Error => "🔴",
    }
}

fn teams(m: &Message) -> Value {
    let colour = match m.severity {
        Severity::Ok => "Good",
        Severity::Warning => "Warning",
        Severity::Error => "Attention",
    };
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [
                    {"type": "TextBlock", "text": m.title, "weight": "Bolder", "size": "Medium", "color": colour, "wrap": true},
                    {"type": "FactSet", "facts": m.fields.iter().map(|f| json!({"title": f.title, "value": f.text})).collect::<Vec<_>>()},
                ],
            },
        }],
    })
}

fn discord(m: &Message) -> Value {
    let colour = u32::from_str_radix(m.severity.colour().trim_start_matches('#'), 16).unwrap_or(0);
    let fields: Vec<Value> = m
        .fields
        .iter()
        .take(25)
        .map(|f| json!({"name": cut(&f.title, 256), "value": cut(&f.text, 1024), "inline": false}))
        .collect();
    json!({
        "content": cut(&m.title, 2000),
        "embeds": [{"title": cut(&m.title, 256), "color": colour, "fields": fields}],
    })
}

fn google_chat(m: &Message) -> Value {
    let mut widgets = vec![json!({"decoratedText": {
        "text": format!("<font color=\"{}\"><b>{}</b></font>", m.severity.colour(), severity_word(m.severity)),
    }})];
    widgets.extend(m.fields.iter().map(
        |f| json!({"decoratedText": {"topLabel": f.title, "text": f.text, "wrapText": true}}),
    ));
    json!({
        "text": m.title,
        "cardsV2": [{
            "cardId": "instance-scheduler",
            "card": {
                "header": {"title": m.title, "subtitle": m.schedule},
                "sections": [{"widgets": widgets}],
            },
        }],
    })
}

fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Ok => "OK",
        Severity::Warning => "WARNING",
        Severity::Error => "ERROR",
    }
}

#[cfg(test)]
mod tests {
    use super::super::Field;
    use super::*;

    fn message(severity: Severity) -> Message {
        Message {
            schedule: "Development".into(),
            severity,
            title: "Development: running servers stop at 22:00 (10 min left)".into(),
            fields: vec![
                Field {
                    title: "Still running".into(),
                    text: "DB, API".into(),
                },
                Field {
                    title: "To extend today".into(),
                    text: "aws lambda invoke …".into(),
                },
            ],
        }
    }

    #[test]
    fn urls_are_recognised_by_host_only() {
        let cases = [
            (
                "https://wh.jandi.com/connect-api/webhook/123/abc",
                Some(Format::Jandi),
            ),
            (
                "https://hooks.slack.com/services/T0/B0/XYZ",
                Some(Format::Slack),
            ),
            (
                "https://discord.com/api/webhooks/1/abc",
                Some(Format::Discord),
            ),
            (
                "https://chat.googleapis.com/v1/spaces/AAA/messages?key=k",
                Some(Format::GoogleChat),
            ),
            (
                "https://prod-01.westus.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke",
                Some(Format::Teams),
            ),
            ("https://example.com/?next=hooks.slack.com", None),
            ("https://evil-jandi.com/x", None),
            ("http://127.0.0.1:8080/hook", None),
        ];
        for (url, want) in cases {
            assert_eq!(Format::recognise(url), want, "{url}");
        }
    }

    #[test]
    fn jandi_has_its_documented_shape() {
        let body = Format::Jandi.body(&message(Severity::Warning));
        assert_eq!(
            body,
            json!({
                "body": "Development: running servers stop at 22:00 (10 min left)",
                "connectColor": "#ECB22E",
                "connectInfo": [
                    {"title": "Still running", "description": "DB, API"},
                    {"title": "To extend today", "description": "aws lambda invoke …"},
                ],
            })
        );
        assert_eq!(
            Format::Jandi.headers(),
            [("Accept", "application/vnd.tosslab.jandi-v2+json")]
        );
    }

    #[test]
    fn slack_has_text_and_blocks() {
        let body = Format::Slack.body(&message(Severity::Error));
        assert!(
            body["text"]
                .as_str()
                .unwrap()
                .starts_with(":red_circle: Development")
        );
        assert_eq!(body["blocks"][0]["type"], "header");
        assert_eq!(body["blocks"][0]["text"]["type"], "plain_text");
        assert_eq!(body["blocks"][1]["text"]["type"], "mrkdwn");
        assert_eq!(
            body["blocks"][1]["text"]["text"],
            "*Still running*\nDB, API"
        );
        assert_eq!(body["blocks"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn teams_sends_an_adaptive_card_message() {
        let body = Format::Teams.body(&message(Severity::Ok));
        assert_eq!(body["type"], "message");
        let card = &body["attachments"][0];
        assert_eq!(
            card["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        assert_eq!(card["content"]["type"], "AdaptiveCard");
        assert_eq!(card["content"]["version"], "1.4");
        assert_eq!(card["content"]["body"][0]["color"], "Good");
        assert_eq!(
            card["content"]["body"][1]["facts"][0],
            json!({"title":"Still running","value":"DB, API"})
        );
    }

    #[test]
    fn discord_uses_a_decimal_colour_and_fields() {
        let body = Format::Discord.body(&message(Severity::Error));
        assert_eq!(body["embeds"][0]["color"], 0xE01E5A);
        assert_eq!(
            body["embeds"][0]["fields"][0],
            json!({"name":"Still running","value":"DB, API","inline":false})
        );
        assert!(body["content"].is_string());
    }

    #[test]
    fn google_chat_has_text_and_a_card() {
        let body = Format::GoogleChat.body(&message(Severity::Warning));
        assert_eq!(
            body["text"],
            "Development: running servers stop at 22:00 (10 min left)"
        );
        let card = &body["cardsV2"][0]["card"];
        assert_eq!(card["header"]["subtitle"], "Development");
        assert!(
            card["sections"][0]["widgets"][0]["decoratedText"]["text"]
                .as_str()
                .unwrap()
                .contains("#ECB22E")
        );
        assert_eq!(
            card["sections"][0]["widgets"][1]["decoratedText"]["topLabel"],
            "Still running"
        );
    }

    #[test]
    fn long_texts_are_cut_to_the_chats_limits() {
        let mut m = message(Severity::Ok);
        m.fields[0].text = "x".repeat(5000);
        let body = Format::Discord.body(&m);
        assert_eq!(
            body["embeds"][0]["fields"][0]["value"]
                .as_str()
                .unwrap()
                .chars()
                .count(),
            1024
        );
    }
}
