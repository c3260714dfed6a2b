//! Schedule items that leave out `TimeZone` or `Enabled`, read as the deployment says
//! (its `Absent` settings): in every load of the tables, before the items are parsed.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::schedule::ScheduleError;
use crate::schedule::absent::Absent;

type Item = HashMap<String, AttributeValue>;

fn present(item: &Item, name: &str) -> bool {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => false,
        Some(AttributeValue::S(s)) => !s.trim().is_empty(),
        Some(_) => true,
    }
}

/// Schedule items as the deployment reads them: one that leaves out `TimeZone` or
/// `Enabled` where the deployment gives them no meaning is reported by name and left
/// out; one without `Enabled` where that means off is read as disabled.
pub fn read_absent(absent: &Absent, raw: Vec<Item>, errors: &mut Vec<ScheduleError>) -> Vec<Item> {
    let mut out = Vec::with_capacity(raw.len());
    for mut item in raw {
        let name = match item.get("ScheduleName") {
            Some(AttributeValue::S(n)) if !n.trim().is_empty() => n.clone(),
            // Reported by the item reader, which names what the item lacks.
            _ => {
                out.push(item);
                continue;
            }
        };
        match absent.read(&name, present(&item, "TimeZone"), present(&item, "Enabled")) {
            Ok(None) => out.push(item),
            Ok(Some(enabled)) => {
                item.insert("Enabled".into(), AttributeValue::Bool(enabled));
                out.push(item);
            }
            Err(e) => errors.push(e),
        }
    }
    out
}
