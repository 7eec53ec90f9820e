//! What the indexes know about a whole filter, by set algebra over the answers of its
//! conditions: `must` intersects, `should` unites, `must_not` complements an exact answer
//! within the live points. A condition no index answers (an unindexed key, `nested`,
//! `values_count`, ...) stands for every point, so the result is a superset to be checked.

use crate::filter::{Condition, Filter, MinShould};
use crate::types::PointId;

use super::{union, Answer, FieldIndexes};

/// The answer for `filter`; `offset_of` finds the live offset of a point id (`has_id`).
pub fn answer(
    indexes: &FieldIndexes,
    filter: &Filter,
    offset_of: &dyn Fn(&PointId) -> Option<u32>,
) -> Answer {
    let solver = Solver { indexes, offset_of };
    solver.filter(filter)
}

struct Solver<'a> {
    indexes: &'a FieldIndexes,
    offset_of: &'a dyn Fn(&PointId) -> Option<u32>,
}

impl Solver<'_> {
    fn filter(&self, filter: &Filter) -> Answer {
        let mut answer = Answer::everything(true);
        for condition in filter.must.iter().flatten() {
            answer = answer.and(self.condition(condition));
        }
        if let Some(should) = filter.should.as_ref().filter(|s| !s.is_empty()) {
            answer = answer.and(self.any_of(should));
        }
        for condition in filter.must_not.iter().flatten() {
            answer = answer.and(self.not(self.condition(condition)));
        }
        if let Some(min_should) = &filter.min_should {
            answer = answer.and(self.at_least(min_should));
        }
        answer
    }

    fn condition(&self, condition: &Condition) -> Answer {
        let live = self.indexes.live();
        let unknown = Answer::everything(false);
        match condition {
            Condition::Field(field) => self
                .indexes
                .field(&field.key)
                .and_then(|index| index.answer(field, live))
                .unwrap_or(unknown),
            Condition::IsEmpty { is_empty } => self
                .indexes
                .field(&is_empty.key)
                .map_or(unknown, |index| index.emptiness(true, live)),
            Condition::HasId { has_id } => {
                Answer::exact(has_id.iter().filter_map(self.offset_of).collect())
            }
            Condition::Filter(inner) => self.filter(inner),
            Condition::IsNull { .. } | Condition::HasVector { .. } | Condition::Nested { .. } => {
                unknown
            }
        }
    }

    /// A union is known only when each part is; one part matching every point exactly
    /// makes the whole match every point.
    fn any_of(&self, conditions: &[Condition]) -> Answer {
        let answers: Vec<Answer> = conditions.iter().map(|c| self.condition(c)).collect();
        if let Some(everything) = answers.iter().find(|a| a.set.is_none() && a.exact) {
            return everything.clone();
        }
        if answers.iter().any(|a| a.set.is_none()) {
            return Answer::everything(false);
        }
        let exact = answers.iter().all(|a| a.exact);
        let set = union(answers.iter().filter_map(|a| a.set.as_ref()));
        Answer {
            set: Some(set),
            exact,
        }
    }

    /// The complement of an exact answer; of a superset, nothing is known.
    fn not(&self, answer: Answer) -> Answer {
        if !answer.exact {
            return Answer::everything(false);
        }
        match answer.set {
            Some(set) => Answer::exact(self.indexes.live() - set),
            None => Answer::exact(Default::default()),
        }
    }

    /// Points meeting at least one of the conditions include those meeting `min_count`.
    fn at_least(&self, min_should: &MinShould) -> Answer {
        if min_should.min_count == 0 {
            return Answer::everything(true);
        }
        let union = self.any_of(&min_should.conditions);
        Answer {
            exact: union.exact && min_should.min_count == 1,
            ..union
        }
    }
}
