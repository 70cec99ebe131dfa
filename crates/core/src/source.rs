//! Where a report's findings are read from after the reader: memory (`[Finding]`, what the
//! CLI and the tests hold) or a file the reader spilled them to (the report-processor, whose
//! memory must not grow with the report: docs/scale.md). Consumers that must not hold every
//! finding at once (the Security Hub import, the results) read through [`FindingSource`].

use crate::finding::Finding;
use std::borrow::Cow;

/// A finding that could not be read back from where it was kept.
#[derive(Debug, thiserror::Error)]
#[error("{what}: finding {index} could not be read back: {reason}")]
pub struct SourceError {
    /// The source (a spill file's path, or "findings in memory").
    pub what: String,
    pub index: usize,
    pub reason: String,
}

/// Findings by position, in report order. `get` borrows from memory or decodes from a file;
/// `for_each_finding` visits them in order (a file reads sequentially).
pub trait FindingSource: Sync {
    /// How many findings.
    fn len(&self) -> usize;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The finding at position `i`; an error past the end.
    fn get(&self, i: usize) -> Result<Cow<'_, Finding>, SourceError>;

    /// Calls `f` with each finding and its position, in order; stops at the first error.
    fn for_each_finding(&self, f: &mut dyn FnMut(usize, &Finding)) -> Result<(), SourceError> {
        for i in 0..self.len() {
            let finding = self.get(i)?;
            f(i, &finding);
        }
        Ok(())
    }
}

impl FindingSource for [Finding] {
    fn len(&self) -> usize {
        <[Finding]>::len(self)
    }

    fn get(&self, i: usize) -> Result<Cow<'_, Finding>, SourceError> {
        <[Finding]>::get(self, i).map(Cow::Borrowed).ok_or_else(|| SourceError {
            what: "findings in memory".into(),
            index: i,
            reason: format!("past the end ({} findings)", <[Finding]>::len(self)),
        })
    }

    fn for_each_finding(&self, f: &mut dyn FnMut(usize, &Finding)) -> Result<(), SourceError> {
        self.iter().enumerate().for_each(|(i, x)| f(i, x));
        Ok(())
    }
}

impl FindingSource for Vec<Finding> {
    fn len(&self) -> usize {
        self.as_slice().len()
    }

    fn get(&self, i: usize) -> Result<Cow<'_, Finding>, SourceError> {
        FindingSource::get(self.as_slice(), i)
    }

    fn for_each_finding(&self, f: &mut dyn FnMut(usize, &Finding)) -> Result<(), SourceError> {
        self.as_slice().for_each_finding(f)
    }
}

/// Two sources read as one, the first's findings then the second's (a report's findings,
/// then its suppressed ones: both are imported).
#[derive(Clone, Copy)]
pub struct Chain<'a>(pub &'a dyn FindingSource, pub &'a dyn FindingSource);

impl FindingSource for Chain<'_> {
    fn len(&self) -> usize {
        self.0.len() + self.1.len()
    }

    fn get(&self, i: usize) -> Result<Cow<'_, Finding>, SourceError> {
        match i.checked_sub(self.0.len()) {
            None => self.0.get(i),
            // An error names the chain's position, not the second source's.
            Some(j) => self.1.get(j).map_err(|e| SourceError { index: i, ..e }),
        }
    }

    fn for_each_finding(&self, f: &mut dyn FnMut(usize, &Finding)) -> Result<(), SourceError> {
        let first = self.0.len();
        self.0.for_each_finding(f)?;
        self.1.for_each_finding(&mut |i, x| f(first + i, x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::severity::Severity;

    fn ids(s: &dyn FindingSource) -> Vec<String> {
        let mut out = Vec::new();
        s.for_each_finding(&mut |i, f| out.push(format!("{i}:{}", f.id))).expect("in memory");
        out
    }

    #[test]
    fn a_chain_reads_the_first_source_then_the_second() {
        let a = vec![Finding::plain("a", Severity::High), Finding::plain("b", Severity::Low)];
        let b = vec![Finding::plain("c", Severity::Medium)];
        let chain = Chain(&a, &b);
        assert_eq!(chain.len(), 3);
        assert_eq!(ids(&chain), ["0:a", "1:b", "2:c"]);
        let by_get: Vec<String> = (0..3).map(|i| chain.get(i).expect("in range").id.clone()).collect();
        assert_eq!(by_get, ["a", "b", "c"]);
        let err = chain.get(3).expect_err("past the end");
        assert_eq!((err.index, err.reason.as_str()), (3, "past the end (1 findings)"));
        let empty: Vec<Finding> = Vec::new();
        assert!(Chain(&empty, &empty).is_empty());
        assert_eq!(ids(&Chain(&empty, &b)), ["0:c"]);
    }
}
