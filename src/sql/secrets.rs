//! Secrets never echoed: a syntax error shows the statement's line, and a CREATE or ALTER REPOSITORY line may hold
//! a password or a secret key. The values of such properties are replaced by as many `*` (so the caret still
//! points where it should) before the line is kept.

/// Property names whose values are secrets (compared in lower case, as a substring).
const SECRET_KEYS: &[&str] = &["password", "secret", "access_key", "accesskey", "token"];

/// `line` with the value of every secret property (`'key' = 'value'`, either quote) starred out, and the starred
/// values themselves (to hide them wherever else they appear).
pub(crate) fn mask(line: &str) -> (String, Vec<String>) {
    let chars: Vec<char> = line.chars().collect();
    let mut out = chars.clone();
    let mut hidden = Vec::new();
    let mut last_key: Option<(String, usize)> = None; // a string literal and the index after it
    let mut i = 0;
    while i < chars.len() {
        let q = chars[i];
        if q != '\'' && q != '"' {
            i += 1;
            continue;
        }
        // A string literal: doubled quotes and backslashes escape.
        let start = i + 1;
        let mut j = start;
        while j < chars.len() {
            if chars[j] == '\\' {
                j += 2;
                continue;
            }
            if chars[j] == q {
                if chars.get(j + 1) == Some(&q) {
                    j += 2;
                    continue;
                }
                break;
            }
            j += 1;
        }
        let end = j.min(chars.len());
        let text: String = chars[start..end].iter().collect();
        let is_value = last_key.as_ref().is_some_and(|(key, after)| {
            let between: String = chars[*after..i].iter().collect();
            between.trim() == "=" && SECRET_KEYS.iter().any(|s| key.to_lowercase().contains(s))
        });
        if is_value {
            if !text.is_empty() {
                hidden.push(text);
            }
            out[start..end].iter_mut().for_each(|c| *c = '*');
            last_key = None;
        } else {
            last_key = Some((text, (end + 1).min(chars.len())));
        }
        i = end + 1;
    }
    (out.into_iter().collect(), hidden)
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn secret_values_are_starred_in_place_and_others_kept() {
        let line = r#"PROPERTIES ("encryption.password" = "hunter2", 's3.secret_key'='k''ey', "s3.region" = "eu")"#;
        let (masked, hidden) = mask(line);
        assert_eq!(
            masked,
            r#"PROPERTIES ("encryption.password" = "*******", 's3.secret_key'='*****', "s3.region" = "eu")"#
        );
        assert_eq!(masked.chars().count(), line.chars().count());
        assert_eq!(hidden, ["hunter2", "k''ey"]);
        // Unterminated: the rest of the line is the value.
        assert_eq!(mask(r#"("AWS_SECRET_KEY" = "abc"#).0, r#"("AWS_SECRET_KEY" = "***"#);
        assert_eq!(
            mask("SHOW SNAPSHOT ON r WHERE SNAPSHOT = 'password'").0,
            "SHOW SNAPSHOT ON r WHERE SNAPSHOT = 'password'"
        );
    }

    #[test]
    fn a_syntax_error_never_echoes_a_secret() {
        for sql in [
            r#"CREATE REPOSITORY r WITH LOCAL ON LOCATION 'file:///x' PROPERTIES ("encryption.password" = "hunter2" "x")"#,
            r#"CREATE REPOSITORY r WITH S3 ON LOCATION 's3://b/p' PROPERTIES ('s3.secret_key' = 'hunter2', )"#,
            r#"ALTER REPOSITORY r PROPERTIES ("encryption.password" = "hunter2"#,
        ] {
            let e = crate::sql::parse(sql).unwrap_err();
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(shown.contains("*******"), "{shown}");
        }
    }
}
