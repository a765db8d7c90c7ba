//! Tokenizer for the issue search language: splits a query into free text and
//! `[!]key:value` terms, keeping the character position of each for error messages.

use super::QueryError;

/// The value of a `key:value` term, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Plain(String),
    /// `key:"…"`; kept apart so a quoted value is never read as an operator or list.
    Quoted(String),
    /// `key:[a, b]`.
    List(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    Text(String),
    Filter {
        /// Character position of the term (its `!`, if negated).
        pos: usize,
        negate: bool,
        key: String,
        value: Value,
    },
}

/// The most terms a query may have, each item of a `key:[a, b]` list counting as one.
/// Every term becomes a condition of the search's SQL, and the databases refuse a
/// statement past some size (SQLite: "Expression tree is too large"); a longer query is
/// refused naming this limit instead. Sentry's own search stops well before it too.
pub const MAX_TERMS: usize = 50;

fn is_key_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '[' | ']')
}

/// Splits `input` into terms. Positions are counted in characters, not bytes, so they
/// match what a user sees in the search box.
pub fn tokenize(input: &str) -> Result<Vec<Term>, QueryError> {
    let chars: Vec<char> = input.chars().collect();
    let n = chars.len();
    let mut terms = Vec::new();
    let mut counted = 0;
    let mut i = 0;
    loop {
        while i < n && chars[i].is_whitespace() {
            i += 1;
        }
        if i >= n {
            return Ok(terms);
        }
        let start = i;
        if chars[i] == '"' {
            let (text, end) = quoted(&chars, i)?;
            expect_separator(&chars, end)?;
            if !text.is_empty() {
                push(&mut terms, &mut counted, Term::Text(text), start)?;
            }
            i = end;
            continue;
        }
        let negate = chars[i] == '!';
        let key_start = if negate { i + 1 } else { i };
        let mut k = key_start;
        while k < n && is_key_char(chars[k]) {
            k += 1;
        }
        if k > key_start && k < n && chars[k] == ':' {
            let key: String = chars[key_start..k].iter().collect();
            let v = k + 1;
            let (value, end) = match chars.get(v) {
                None => return Err(empty_value(&key, start)),
                Some(c) if c.is_whitespace() => return Err(empty_value(&key, start)),
                Some('"') => {
                    let (s, end) = quoted(&chars, v)?;
                    expect_separator(&chars, end)?;
                    (Value::Quoted(s), end)
                }
                Some('[') => {
                    let (items, end) = list(&chars, v)?;
                    expect_separator(&chars, end)?;
                    (Value::List(items), end)
                }
                Some(_) => {
                    let end = word_end(&chars, v);
                    (Value::Plain(chars[v..end].iter().collect()), end)
                }
            };
            let term = Term::Filter {
                pos: start,
                negate,
                key,
                value,
            };
            push(&mut terms, &mut counted, term, start)?;
            i = end;
        } else {
            let end = word_end(&chars, i);
            push(
                &mut terms,
                &mut counted,
                Term::Text(chars[i..end].iter().collect()),
                start,
            )?;
            i = end;
        }
    }
}

/// Adds `term`, found at `pos`, unless the query then has more than [`MAX_TERMS`].
fn push(
    terms: &mut Vec<Term>,
    counted: &mut usize,
    term: Term,
    pos: usize,
) -> Result<(), QueryError> {
    *counted += match &term {
        Term::Filter {
            value: Value::List(items),
            ..
        } => items.len(),
        _ => 1,
    };
    if *counted > MAX_TERMS {
        return Err(QueryError::new(
            pos,
            format!("too many search terms: a query may have at most {MAX_TERMS}"),
        ));
    }
    terms.push(term);
    Ok(())
}

fn empty_value(key: &str, pos: usize) -> QueryError {
    QueryError::new(pos, format!("empty value for key \"{key}\""))
}

fn word_end(chars: &[char], mut i: usize) -> usize {
    while i < chars.len() && !chars[i].is_whitespace() {
        i += 1;
    }
    i
}

/// After a closing quote or bracket only whitespace or the end may follow; anything
/// else is almost certainly a typo the user wants to hear about.
fn expect_separator(chars: &[char], i: usize) -> Result<(), QueryError> {
    match chars.get(i) {
        Some(c) if !c.is_whitespace() => {
            Err(QueryError::new(i, format!("unexpected character '{c}'")))
        }
        _ => Ok(()),
    }
}

/// Reads a quoted string starting at the opening quote `open`. `\"` and `\\` are escapes;
/// other backslashes are kept literally. Returns the text and the index after the quote.
fn quoted(chars: &[char], open: usize) -> Result<(String, usize), QueryError> {
    let mut out = String::new();
    let mut i = open + 1;
    while i < chars.len() {
        match chars[i] {
            '"' => return Ok((out, i + 1)),
            '\\' if matches!(chars.get(i + 1), Some('"' | '\\')) => {
                out.push(chars[i + 1]);
                i += 2;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Err(QueryError::new(open, "unterminated quote"))
}

/// Reads `[a, b, "c d"]` starting at `[`. Returns the items and the index after `]`.
fn list(chars: &[char], open: usize) -> Result<(Vec<String>, usize), QueryError> {
    let mut items = Vec::new();
    let mut i = open + 1;
    loop {
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        let item_pos = i;
        let item = match chars.get(i) {
            None => return Err(QueryError::new(open, "unterminated list")),
            Some('"') => {
                let (s, end) = quoted(chars, i)?;
                i = end;
                s
            }
            Some(_) => {
                let begin = i;
                while i < chars.len() && !matches!(chars[i], ',' | ']') {
                    i += 1;
                }
                chars[begin..i]
                    .iter()
                    .collect::<String>()
                    .trim()
                    .to_string()
            }
        };
        if item.is_empty() {
            return Err(QueryError::new(item_pos, "empty list item"));
        }
        items.push(item);
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        match chars.get(i) {
            Some(',') => i += 1,
            Some(']') => return Ok((items, i + 1)),
            None => return Err(QueryError::new(open, "unterminated list")),
            Some(c) => {
                return Err(QueryError::new(
                    i,
                    format!("unexpected character '{c}' in list"),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(pos: usize, negate: bool, key: &str, value: Value) -> Term {
        Term::Filter {
            pos,
            negate,
            key: key.into(),
            value,
        }
    }

    #[test]
    fn terms_and_words() {
        let terms = tokenize("  is:unresolved  !level:info foo bar ").unwrap();
        assert_eq!(
            terms,
            vec![
                filter(2, false, "is", Value::Plain("unresolved".into())),
                filter(17, true, "level", Value::Plain("info".into())),
                Term::Text("foo".into()),
                Term::Text("bar".into()),
            ]
        );
    }

    #[test]
    fn quoted_values_and_text() {
        let terms =
            tokenize(r#"browser:"Chrome 120" "connection reset" msg:"say \"hi\" \\ \d""#).unwrap();
        assert_eq!(
            terms,
            vec![
                filter(0, false, "browser", Value::Quoted("Chrome 120".into())),
                Term::Text("connection reset".into()),
                filter(40, false, "msg", Value::Quoted(r#"say "hi" \ \d"#.into())),
            ]
        );
    }

    #[test]
    fn lists() {
        let terms = tokenize(r#"is:[unresolved, "ignored" ]"#).unwrap();
        assert_eq!(
            terms,
            vec![filter(
                0,
                false,
                "is",
                Value::List(vec!["unresolved".into(), "ignored".into()])
            )]
        );
    }

    #[test]
    fn words_with_colons_inside_values() {
        let terms = tokenize("url:http://x/y?a=b").unwrap();
        assert_eq!(
            terms,
            vec![filter(
                0,
                false,
                "url",
                Value::Plain("http://x/y?a=b".into())
            )]
        );
        // Not a key: `:` is the first character.
        assert_eq!(tokenize(":foo").unwrap(), vec![Term::Text(":foo".into())]);
    }

    #[test]
    fn positions_count_characters() {
        let err = tokenize("héllo wörld \"open").unwrap_err();
        assert_eq!(err.pos, 12);
    }

    #[test]
    fn the_number_of_terms_is_capped() {
        let terms = |n: usize| (0..n).map(|i| format!("k{i}:v ")).collect::<String>();
        assert_eq!(tokenize(&terms(MAX_TERMS)).unwrap().len(), MAX_TERMS);
        let err = tokenize(&terms(MAX_TERMS + 1)).unwrap_err();
        assert_eq!(err.pos, terms(MAX_TERMS).len(), "the first term too many");
        assert!(err.reason.contains("at most 50"), "{}", err.reason);
        // Words and list items count too.
        let words = "w ".repeat(MAX_TERMS + 1);
        assert!(tokenize(&words).is_err());
        let list = format!("is:[{}]", vec!["unresolved"; MAX_TERMS + 1].join(","));
        assert!(tokenize(&list).is_err());
        assert!(tokenize(&format!("is:[{}]", vec!["resolved"; MAX_TERMS].join(","))).is_ok());
    }

    #[test]
    fn errors() {
        let cases = [
            ("level:", 0, "empty value for key \"level\""),
            ("foo level: bar", 4, "empty value for key \"level\""),
            ("message:\"abc", 8, "unterminated quote"),
            ("is:[a, b", 3, "unterminated list"),
            ("is:[a,,b]", 6, "empty list item"),
            ("is:[\"a\" b]", 8, "unexpected character 'b' in list"),
            ("is:[a]b", 6, "unexpected character 'b'"),
            ("k:\"a\"b", 5, "unexpected character 'b'"),
        ];
        for (input, pos, reason) in cases {
            let err = tokenize(input).unwrap_err();
            assert_eq!((err.pos, err.reason.as_str()), (pos, reason), "{input}");
        }
    }
}
