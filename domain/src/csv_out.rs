//! The CSV we write (the ledger, `report.csv`, sample data): RFC 4180 quoting, one rule.

/// Appends `field` with RFC 4180 quoting when it holds a comma, a quote, CR or LF.
/// Written by hand because writing into a `String` cannot fail, unlike `csv::Writer`.
pub(crate) fn push_field(out: &mut String, field: &str) {
    if field.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

#[cfg(test)]
mod tests {
    use super::push_field;

    #[test]
    fn quotes_only_what_needs_it() {
        let quoted = |f: &str| {
            let mut s = String::new();
            push_field(&mut s, f);
            s
        };
        assert_eq!(quoted("plain"), "plain");
        assert_eq!(quoted("a,b"), "\"a,b\"");
        assert_eq!(quoted("27\" x"), "\"27\"\" x\"");
        assert_eq!(quoted("two\nlines"), "\"two\nlines\"");
        assert_eq!(quoted("cr\r"), "\"cr\r\"");
    }
}
