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
        let right = question
            .answer
            .as_ref()
            .is_some_and(|a| a.trim().eq_ignore_ascii_case(given))
            || question
                .matches
                .as_ref()
                .and_then(|p| regex::Regex::new(p).ok())
                .is_some_and(|re| re.is_match(given));
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
