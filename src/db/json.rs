//! Lists stored as JSON arrays in text columns (both backends keep them as `TEXT`).

use std::ops::Deref;

/// A list of strings kept as a JSON array in a text column. It is parsed once, when the row is
/// read; a row that does not hold a JSON array of strings fails its query (a loud error in the
/// log) instead of reading as an empty list and silently denying.
///
/// Fields use it with `#[diesel(deserialize_as = String, serialize_as = String)]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JsonList(pub Vec<String>);

impl TryFrom<String> for JsonList {
    type Error = serde_json::Error;

    fn try_from(text: String) -> Result<JsonList, serde_json::Error> {
        serde_json::from_str(&text).map(JsonList)
    }
}

impl From<JsonList> for String {
    fn from(list: JsonList) -> String {
        serde_json::Value::from(list.0).to_string()
    }
}

impl From<Vec<String>> for JsonList {
    fn from(items: Vec<String>) -> JsonList {
        JsonList(items)
    }
}

impl Deref for JsonList {
    type Target = [String];

    fn deref(&self) -> &[String] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::JsonList;

    #[test]
    fn round_trips_and_refuses_what_is_not_a_list_of_strings() {
        let list = JsonList(vec!["a\"b".into(), "c".into()]);
        let text = String::from(list.clone());
        assert_eq!(JsonList::try_from(text).unwrap(), list);
        assert!(JsonList::try_from("[1]".to_owned()).is_err());
        assert!(JsonList::try_from("".to_owned()).is_err());
        assert!(JsonList::try_from("{}".to_owned()).is_err());
    }
}
