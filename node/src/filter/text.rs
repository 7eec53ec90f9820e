//! Full-text matching on a key with a text index: strings are cut into tokens by the index's
//! tokenizer, and `match: text` / `text_any` / `phrase` compare tokens instead of substrings
//! (without a text index they are substring tests, as in Qdrant).
//!
//! Tokenizers, as Qdrant names them:
//! - `word` (default): runs of alphanumeric characters;
//! - `whitespace`: runs of non-whitespace characters;
//! - `prefix`: the words, indexed with every prefix of `min_token_len..=max_token_len`
//!   characters, so a query word matches the words it begins;
//! - `multilingual`: Unicode word segmentation (UAX #29, via `unicode-segmentation`): words
//!   of alphabetic scripts, numbers, and each ideograph of CJK text on its own.
//!
//! Tokens are then lowercased (default), optionally folded to ASCII, stripped of stopwords
//! and dropped when their length in characters is outside `min_token_len..=max_token_len`.

use std::collections::HashSet;

use serde::Deserialize;
use unicode_segmentation::UnicodeSegmentation;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenizerKind {
    Prefix,
    Whitespace,
    #[default]
    Word,
    Multilingual,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tokenizer {
    pub kind: TokenizerKind,
    pub lowercase: bool,
    pub ascii_folding: bool,
    pub min_len: usize,
    pub max_len: Option<usize>,
    pub stopwords: HashSet<String>,
}

impl Default for Tokenizer {
    fn default() -> Self {
        Tokenizer {
            kind: TokenizerKind::Word,
            lowercase: true,
            ascii_folding: false,
            min_len: 0,
            max_len: None,
            stopwords: HashSet::new(),
        }
    }
}

impl Tokenizer {
    /// The normalized words of a text, in order (what phrases are matched against).
    pub fn words(&self, text: &str) -> Vec<String> {
        let raw: Box<dyn Iterator<Item = &str>> = match self.kind {
            TokenizerKind::Whitespace => Box::new(text.split_whitespace()),
            TokenizerKind::Word | TokenizerKind::Prefix => {
                Box::new(text.split(|c: char| !c.is_alphanumeric()))
            }
            TokenizerKind::Multilingual => Box::new(text.unicode_words()),
        };
        raw.filter(|w| !w.is_empty())
            .map(|w| self.normalize(w))
            .filter(|w| !self.stopwords.contains(w))
            .filter_map(|w| self.fit_length(w))
            .collect()
    }

    /// The tokens a text is indexed under: its words, plus (for `prefix`) every prefix of
    /// each word from `min_token_len` characters on.
    pub fn document_tokens(&self, text: &str) -> Vec<String> {
        let words = self.words(text);
        if self.kind != TokenizerKind::Prefix {
            return words;
        }
        let mut tokens = Vec::new();
        for word in words {
            let ends: Vec<usize> = word.char_indices().map(|(i, c)| i + c.len_utf8()).collect();
            let from = self.min_len.max(1);
            for &end in ends.iter().skip(from - 1) {
                tokens.push(word[..end].to_string());
            }
        }
        tokens
    }

    /// The tokens a query must find: its words (a `prefix` query word matches the indexed
    /// prefix of the same text).
    pub fn query_tokens(&self, text: &str) -> Vec<String> {
        self.words(text)
    }

    fn normalize(&self, word: &str) -> String {
        let word = if self.lowercase {
            word.to_lowercase()
        } else {
            word.to_string()
        };
        if self.ascii_folding {
            fold_to_ascii(&word)
        } else {
            word
        }
    }

    /// Drops tokens shorter than `min_token_len`; longer than `max_token_len` they are
    /// dropped, except by `prefix`, which keeps their first `max_token_len` characters.
    fn fit_length(&self, word: String) -> Option<String> {
        let chars = word.chars().count();
        if chars < self.min_len {
            return None;
        }
        match self.max_len {
            Some(max) if chars > max => {
                (self.kind == TokenizerKind::Prefix).then(|| word.chars().take(max).collect())
            }
            _ => Some(word),
        }
    }

    /// `match: text`: every query token is among the tokens of the values. A query without
    /// tokens matches nothing.
    pub fn matches_all(&self, query: &str, values: &[&str]) -> bool {
        let wanted = self.query_tokens(query);
        let have = self.token_set(values);
        !wanted.is_empty() && wanted.iter().all(|t| have.contains(t))
    }

    /// `match: text_any`: some query token is among the tokens of the values.
    pub fn matches_any(&self, query: &str, values: &[&str]) -> bool {
        let have = self.token_set(values);
        self.query_tokens(query).iter().any(|t| have.contains(t))
    }

    /// `match: phrase`: the query's words appear consecutively, in order, in one value.
    pub fn matches_phrase(&self, query: &str, values: &[&str]) -> bool {
        let phrase = self.words(query);
        !phrase.is_empty()
            && values.iter().any(|v| {
                self.words(v)
                    .windows(phrase.len())
                    .any(|window| window == phrase.as_slice())
            })
    }

    fn token_set(&self, values: &[&str]) -> HashSet<String> {
        values
            .iter()
            .flat_map(|v| self.document_tokens(v))
            .collect()
    }
}

/// Folds accented Latin letters to ASCII (`ação` → `acao`): canonical decomposition, then
/// the combining marks are dropped.
fn fold_to_ascii(word: &str) -> String {
    use unicode_normalization::char::is_combining_mark;
    use unicode_normalization::UnicodeNormalization;
    word.nfd().filter(|c| !is_combining_mark(*c)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokenizer(kind: TokenizerKind) -> Tokenizer {
        Tokenizer {
            kind,
            ..Tokenizer::default()
        }
    }

    #[test]
    fn tokenizers_cut_text_as_qdrant_names_them() {
        let text = "Hello, wide-World! e-mail: x@y.z";
        assert_eq!(
            tokenizer(TokenizerKind::Word).words(text),
            ["hello", "wide", "world", "e", "mail", "x", "y", "z"]
        );
        assert_eq!(
            tokenizer(TokenizerKind::Whitespace).words(text),
            ["hello,", "wide-world!", "e-mail:", "x@y.z"]
        );
        assert_eq!(
            tokenizer(TokenizerKind::Multilingual).words("Größe 東京タワー can't 42"),
            ["größe", "東", "京", "タワー", "can't", "42"]
        );
    }

    #[test]
    fn prefix_tokens_let_a_word_match_its_beginning() {
        let t = Tokenizer {
            kind: TokenizerKind::Prefix,
            min_len: 2,
            max_len: Some(4),
            ..Tokenizer::default()
        };
        assert_eq!(t.document_tokens("Grape"), ["gr", "gra", "grap"]);
        assert!(t.matches_all("gra", &["grapefruit juice"]));
        assert!(t.matches_all("grapes", &["grapefruit juice"]), "cut to 4");
        assert!(!t.matches_all("gru", &["grapefruit juice"]));
    }

    #[test]
    fn options_normalize_tokens() {
        let t = Tokenizer {
            lowercase: false,
            ascii_folding: true,
            min_len: 2,
            max_len: Some(5),
            stopwords: ["the".to_string()].into(),
            ..Tokenizer::default()
        };
        assert_eq!(t.words("the Ação a extraordinary x THE"), ["Acao", "THE"]);
    }

    #[test]
    fn text_any_and_phrase_follow_token_semantics() {
        let t = Tokenizer::default();
        let values = ["The quick brown fox", "jumps over"];
        assert!(t.matches_all("QUICK fox", &values));
        assert!(t.matches_all("fox jumps", &values), "tokens of all values");
        assert!(!t.matches_all("quick cat", &values));
        assert!(
            !t.matches_all("qui", &values),
            "whole tokens, not substrings"
        );
        assert!(!t.matches_all("", &values));
        assert!(t.matches_any("cat fox", &values));
        assert!(!t.matches_any("cat dog", &values));
        assert!(t.matches_phrase("quick, brown", &values));
        assert!(!t.matches_phrase("brown quick", &values));
        assert!(
            !t.matches_phrase("fox jumps", &values),
            "a phrase lies in one value"
        );
    }
}
