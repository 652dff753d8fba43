//! The CSV we write (the ledger, `report.csv`, sample data): RFC 4180 quoting, one rule, and
//! the spreadsheet rule for names in the files people open in a spreadsheet.

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

/// What a spreadsheet takes for the start of a formula when it opens a CSV (OWASP's "CSV
/// injection": `=`, `+`, `-`, `@`, TAB, CR), so a name like `=HYPERLINK(…)` would run.
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// The quote put before a name so that a spreadsheet shows it as text (OWASP's advice).
const TEXT_MARK: char = '\'';

/// Appends a name (a sales rep) to a CSV people open in a spreadsheet (`report.csv`, the
/// ledger): a name that starts with a formula character gets a single quote in front, so the
/// spreadsheet shows it as text instead of running it; then RFC 4180 quoting. A name that
/// itself starts with a single quote gets one more, so the rule can be undone exactly:
/// [`name_of_text_field`] removes one leading quote, and every name round-trips.
pub(crate) fn push_text_field(out: &mut String, name: &str) {
    if name.starts_with(FORMULA_START) || name.starts_with(TEXT_MARK) {
        let mut marked = String::with_capacity(name.len() + 1);
        marked.push(TEXT_MARK);
        marked.push_str(name);
        push_field(out, &marked);
    } else {
        push_field(out, name);
    }
}

/// The name a field written by [`push_text_field`] holds (after RFC 4180 unquoting): the
/// field without one leading single quote.
pub(crate) fn name_of_text_field(field: &str) -> &str {
    field.strip_prefix(TEXT_MARK).unwrap_or(field)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn quoted(f: &str) -> String {
        let mut s = String::new();
        push_field(&mut s, f);
        s
    }
    fn text(f: &str) -> String {
        let mut s = String::new();
        push_text_field(&mut s, f);
        s
    }

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(quoted("plain"), "plain");
        assert_eq!(quoted("a,b"), "\"a,b\"");
        assert_eq!(quoted("27\" x"), "\"27\"\" x\"");
        assert_eq!(quoted("two\nlines"), "\"two\nlines\"");
        assert_eq!(quoted("cr\r"), "\"cr\r\"");
    }

    /// OWASP's list, each marked; a quote inside or at the end is left alone.
    #[test]
    fn formula_starts_are_marked_as_text() {
        assert_eq!(
            text("=HYPERLINK(\"http://x\",\"y\")"),
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""
        );
        assert_eq!(text("+1"), "'+1");
        assert_eq!(text("-2"), "'-2");
        assert_eq!(text("@SUM(A1:A2)"), "'@SUM(A1:A2)");
        assert_eq!(text("\tTab"), "'\tTab");
        assert_eq!(text("\rCR"), "\"'\rCR\"");
        assert_eq!(text("'t Hooft"), "''t Hooft");
        assert_eq!(text("Ada"), "Ada");
        assert_eq!(text("O'Brien"), "O'Brien");
        assert_eq!(text("Ada-Lovelace"), "Ada-Lovelace");
        assert_eq!(text(" =1"), " =1");
        assert_eq!(text(""), "");
    }

    proptest! {
        /// Every name round-trips through the rule and a real CSV reader, and no field a
        /// spreadsheet sees starts with a formula character.
        #[test]
        fn every_name_round_trips(name in prop_oneof![
            any::<String>(),
            "['=+@\t\r-]{1,3}[a-z,\"\n]{0,5}",
        ]) {
            // After another field, as in the ledger and the report (a reader would take a
            // BOM at the very start of the input for the file's).
            let line = format!("2026-01-15,{}\n", text(&name));
            let mut reader =
                csv::ReaderBuilder::new().has_headers(false).from_reader(line.as_bytes());
            let record = reader.records().next();
            let field = match &record {
                Some(Ok(record)) => record.get(1).unwrap_or_default(),
                _ => return Err(TestCaseError::fail(format!("{line:?}: {record:?}"))),
            };
            prop_assert!(!field.starts_with(FORMULA_START), "{:?} → {:?}", name, field);
            prop_assert_eq!(name_of_text_field(field), name.as_str());
        }
    }
}
