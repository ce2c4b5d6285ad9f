//! Topic names (DESIGN.md, "Flow"), all behind one optional prefix.

#[derive(Debug, Clone)]
pub struct Topics {
    prefix: String,
}

impl Topics {
    pub fn new(prefix: &str) -> Self {
        Topics {
            prefix: prefix.to_string(),
        }
    }

    fn name(&self, base: &str) -> String {
        format!("{}{base}", self.prefix)
    }

    pub fn events(&self) -> String {
        self.name("conversation.events")
    }
    pub fn commands(&self) -> String {
        self.name("handoff.commands")
    }
    pub fn signals(&self) -> String {
        self.name("handoff.signals")
    }
    pub fn payloads(&self) -> String {
        self.name("handoff.payloads")
    }
    pub fn control(&self) -> String {
        self.name("agent.control")
    }
    pub fn lifecycle(&self) -> String {
        self.name("handoff.lifecycle")
    }
    pub fn state(&self) -> String {
        self.name("handoff.state")
    }
    pub fn dlq(&self) -> String {
        self.name("handoff.dlq")
    }
    pub fn team(&self, team: &str) -> String {
        self.name(&format!("handoff.team.{team}"))
    }
    /// The subscription pattern of every team topic (librdkafka treats a leading `^` as a regex).
    pub fn team_pattern(&self) -> String {
        format!("^{}handoff\\.team\\..+", regex_escape(&self.prefix))
    }
    /// The team a team topic belongs to, if it is one.
    pub fn team_of<'a>(&self, topic: &'a str) -> Option<&'a str> {
        topic
            .strip_prefix(&self.prefix)?
            .strip_prefix("handoff.team.")
    }
}

fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$-".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixed_names_and_pattern() {
        let t = Topics::new("t-1a.");
        assert_eq!(t.events(), "t-1a.conversation.events");
        assert_eq!(t.team("billing"), "t-1a.handoff.team.billing");
        assert_eq!(t.team_pattern(), "^t\\-1a\\.handoff\\.team\\..+");
        assert_eq!(t.team_of("t-1a.handoff.team.billing"), Some("billing"));
        assert_eq!(t.team_of("handoff.team.billing"), None);
        let re = regex::Regex::new(&t.team_pattern()).unwrap();
        assert!(re.is_match("t-1a.handoff.team.fraud"));
        assert!(!re.is_match("t-2b.handoff.team.fraud"));
    }
}
