//! A lesson's questions, answered on the command line:
//! `cargo lab check 08 --answer slowest=inventory-service`.

use std::collections::BTreeMap;

use super::diagnosis::Cause;
use super::outcome::Report;
use super::spec::Spec;

/// Parses `KEY=VALUE` answers; an unknown key is an error naming the known ones.
pub fn parse_answers(spec: &Spec, raw: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut answers = BTreeMap::new();
    for item in raw {
        let Some((key, value)) = item.split_once('=') else {
            anyhow::bail!("--answer {item:?} is not KEY=VALUE");
        };
        if !spec.questions.iter().any(|q| q.key == key) {
            let known: Vec<&str> = spec.questions.iter().map(|q| q.key.as_str()).collect();
            anyhow::bail!(
                "this lesson has no question {key:?}; its questions: {}",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            );
        }
        answers.insert(key.to_string(), value.trim().to_string());
    }
    Ok(answers)
}

/// Judges the given answers; lists the questions not answered.
pub fn check(spec: &Spec, answers: &BTreeMap<String, String>, report: &mut Report) {
    for question in &spec.questions {
        let Some(given) = answers.get(&question.key) else {
            report
                .unanswered
                .push((question.key.clone(), question.text.clone()));
            continue;
        };
        let natural = normalize(given);
        let right = question
            .answer
            .as_ref()
            .is_some_and(|a| same_answer(a, given))
            || question
                .matches
                .as_ref()
                .and_then(|p| {
                    regex::RegexBuilder::new(p)
                        .case_insensitive(true)
                        .build()
                        .ok()
                })
                .is_some_and(|re| re.is_match(given.trim()) || re.is_match(&natural));
        if right {
            report
                .right_answers
                .push(format!("{}={given}", question.key));
        } else {
            let problem = format!("{}: {given:?} is not right", question.text);
            let cause = Cause::WrongAnswer {
                key: question.key.clone(),
            };
            report.add(None, problem, cause);
        }
    }
}

/// A right answer in any of its natural spellings: any case, in quotes or
/// backticks, `inventory` for `inventory-service`, `15,800` or `15800 cents`
/// for `15800`. Units are not converted: `1.5 s` is not `1500 ms`.
pub fn same_answer(expected: &str, given: &str) -> bool {
    let (expected, given) = (normalize(expected), normalize(given));
    if expected == given {
        return true;
    }
    // A service named without its `-service` suffix.
    if expected.strip_suffix("-service") == Some(given.as_str()) {
        return true;
    }
    // A number with separators or its unit word.
    let number = |s: &str| -> Option<String> {
        let s = s
            .trim_end_matches(|c: char| c.is_ascii_alphabetic() || c.is_whitespace())
            .replace([',', '_', ' '], "");
        (!s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || c == '.')).then_some(s)
    };
    matches!((number(&expected), number(&given)), (Some(a), Some(b)) if a == b)
}

/// Lower case, without surrounding quotes, backticks or spaces, inner
/// spaces collapsed.
fn normalize(answer: &str) -> String {
    answer
        .trim()
        .trim_matches(|c| matches!(c, '"' | '\'' | '`'))
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::same_answer;

    #[test]
    fn natural_spellings_of_a_right_answer_are_right() {
        assert!(same_answer("inventory-service", "Inventory-Service"));
        assert!(same_answer("inventory-service", "inventory"));
        assert!(same_answer("inventory-service", "`inventory-service`"));
        assert!(same_answer("15800", "15,800"));
        assert!(same_answer("15800", "15800 cents"));
        assert!(same_answer("KEYBOARD-001", "keyboard-001"));
        assert!(same_answer("validate_order", " validate_order "));
    }

    #[test]
    fn wrong_answers_stay_wrong() {
        assert!(!same_answer("inventory-service", "order-service"));
        assert!(!same_answer("inventory-service", "service"));
        assert!(!same_answer("15800", "158"));
        assert!(!same_answer("15800", "cents"));
        assert!(!same_answer("free", "freemium"));
    }
}
