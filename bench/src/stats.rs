//! Latency samples and their percentiles.
use std::time::Duration;

/// Latency samples of one kind (e.g. EVENT → OK).
#[derive(Default)]
pub struct Samples(Vec<Duration>);

impl Samples {
    /// Add one sample.
    pub fn push(&mut self, d: Duration) {
        self.0.push(d);
    }

    /// Add every sample of `other`.
    pub fn extend(&mut self, other: Samples) {
        self.0.extend(other.0);
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The `p`-th percentile (0–100, nearest rank), or zero without samples.
    pub fn percentile(&mut self, p: f64) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        self.0.sort_unstable();
        let rank = ((p / 100.0) * self.0.len() as f64).ceil() as usize;
        self.0[rank.clamp(1, self.0.len()) - 1]
    }

    /// "p50 … p90 … p99 … max …" in milliseconds.
    pub fn summary(&mut self) -> String {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        format!(
            "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            ms(self.percentile(50.0)),
            ms(self.percentile(90.0)),
            ms(self.percentile(99.0)),
            ms(self.percentile(100.0))
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut s = Samples::default();
        for ms in [5u64, 1, 4, 2, 3, 6, 7, 8, 9, 10] {
            s.push(Duration::from_millis(ms));
        }
        assert_eq!(s.percentile(50.0), Duration::from_millis(5));
        assert_eq!(s.percentile(90.0), Duration::from_millis(9));
        assert_eq!(s.percentile(99.0), Duration::from_millis(10));
        assert_eq!(s.percentile(0.0), Duration::from_millis(1));
        assert_eq!(Samples::default().percentile(50.0), Duration::ZERO);
    }
}
