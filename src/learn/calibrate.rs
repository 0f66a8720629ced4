//! From held-out predictions to the numbers that make automatic decisions trustworthy: a
//! temperature (so a displayed confidence means what it says) and a threshold (the lowest
//! confidence at which the decisions above it were right often enough).

use super::linear::{softmax, Rng};

/// One held-out prediction: the field's scores over the labels of the model that made it, and
/// the true label.
pub(crate) struct HeldOut {
    /// The example's index in the training set.
    pub example: usize,
    pub labels: std::sync::Arc<Vec<String>>,
    pub scores: Vec<f32>,
    pub truth: String,
    pub weight: f32,
}

/// The temperature that minimises the held-out negative log-likelihood (golden-section search on
/// log T between 0.05 and 20). Logistic regression is close to calibrated already (T ≈ 1);
/// naive Bayes is badly over-confident without it.
pub(crate) fn fit_temperature(held_out: &[HeldOut]) -> f32 {
    let nll = |log_t: f64| -> f64 {
        let t = log_t.exp() as f32;
        let mut total = 0f64;
        let mut p = Vec::new();
        for h in held_out {
            let Some(y) = h.labels.iter().position(|l| *l == h.truth) else {
                continue;
            };
            p.clear();
            p.extend_from_slice(&h.scores);
            softmax(&mut p, t);
            total -= f64::from(h.weight) * f64::from(p[y].max(1e-12)).ln();
        }
        total
    };
    let (mut a, mut b) = (0.05f64.ln(), 20f64.ln());
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    let mut c = b - ratio * (b - a);
    let mut d = a + ratio * (b - a);
    let (mut fc, mut fd) = (nll(c), nll(d));
    for _ in 0..40 {
        if fc < fd {
            b = d;
            d = c;
            fd = fc;
            c = b - ratio * (b - a);
            fc = nll(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + ratio * (b - a);
            fd = nll(d);
        }
    }
    (((a + b) / 2.0).exp()) as f32
}

/// No automatic decision below this confidence, whatever the calibration says: a decision that
/// the model itself thinks more likely wrong than right is a suggestion.
pub(crate) const MIN_THRESHOLD: f32 = 0.5;

/// The lowest confidence `t` such that the held-out predictions with confidence ≥ `t` were right
/// with (weighted) precision ≥ `target`, over at least `min_support` of them; `None` when no
/// threshold reaches it (then the field never decides by itself). `preds` is (confidence, right,
/// weight).
pub(crate) fn threshold_for(
    preds: &mut [(f32, bool, f32)],
    target: f32,
    min_support: usize,
) -> Option<f32> {
    preds.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut right, mut total) = (0f64, 0f64);
    let mut best = None;
    for (i, &(conf, ok, w)) in preds.iter().enumerate() {
        total += f64::from(w);
        if ok {
            right += f64::from(w);
        }
        // Only at the end of a run of equal confidences: a threshold cannot split a tie.
        let tie_continues = preds.get(i + 1).is_some_and(|n| n.0 == conf);
        if !tie_continues && i + 1 >= min_support && right >= f64::from(target) * total {
            best = Some(conf);
        }
    }
    best.map(|t| t.max(MIN_THRESHOLD))
}

/// A fold number for each key, stratified: each key's members are shuffled and dealt round the
/// folds in turn, continuing where the previous key stopped, so every fold gets its share of
/// every label and fold sizes differ by at most one.
pub(crate) fn stratified_folds(keys: &[&str], folds: usize, seed: u64) -> Vec<usize> {
    let mut groups: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
    for (i, k) in keys.iter().enumerate() {
        groups.entry(k).or_default().push(i);
    }
    let mut rng = Rng::new(seed);
    let mut fold_of = vec![0; keys.len()];
    let mut next = 0;
    for members in groups.values_mut() {
        rng.shuffle(members);
        for &i in members.iter() {
            fold_of[i] = next % folds;
            next += 1;
        }
    }
    fold_of
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_is_the_lowest_that_keeps_precision() {
        // Confidences 1.0 .. 0.55; the wrong ones are at 0.8 and below 0.7.
        let mut preds: Vec<(f32, bool, f32)> = (0..10)
            .map(|i| {
                let conf = 1.0 - i as f32 * 0.05;
                (conf, !(i == 4 || i >= 7), 1.0)
            })
            .collect();
        // Top 7: one wrong in seven = 85.7 %; top 4: 100 %; top 6: 5/6 = 83 %.
        let conf = |i: usize| preds[i].0;
        assert_eq!(threshold_for(&mut preds.clone(), 0.85, 1), Some(conf(6)));
        assert_eq!(threshold_for(&mut preds.clone(), 0.95, 1), Some(conf(3)));
        assert_eq!(threshold_for(&mut preds.clone(), 0.95, 5), None);
        // Never below the floor.
        preds.iter_mut().for_each(|p| p.1 = true);
        let last = preds[9].0;
        assert_eq!(threshold_for(&mut preds, 0.95, 1), Some(last));
        let mut low = vec![(0.3, true, 1.0); 10];
        assert_eq!(threshold_for(&mut low, 0.95, 1), Some(MIN_THRESHOLD));
    }

    #[test]
    fn folds_are_stratified_and_balanced() {
        let keys: Vec<&str> = (0..100)
            .map(|i| if i % 4 == 0 { "rare" } else { "common" })
            .collect();
        let folds = stratified_folds(&keys, 5, 1);
        for f in 0..5 {
            let in_fold: Vec<usize> = (0..100).filter(|&i| folds[i] == f).collect();
            assert_eq!(in_fold.len(), 20);
            assert_eq!(in_fold.iter().filter(|&&i| keys[i] == "rare").count(), 5);
        }
    }

    #[test]
    fn temperature_cools_an_overconfident_model() {
        // Scores that say 99.99 % but are right 75 % of the time.
        let held_out: Vec<HeldOut> = (0..100)
            .map(|i| HeldOut {
                example: i,
                labels: std::sync::Arc::new(vec!["a".into(), "b".into()]),
                scores: vec![10.0, 0.0],
                truth: if i % 4 == 0 { "b".into() } else { "a".into() },
                weight: 1.0,
            })
            .collect();
        let t = fit_temperature(&held_out);
        let mut p = vec![10.0, 0.0];
        softmax(&mut p, t);
        assert!((p[0] - 0.75).abs() < 0.02, "T={t} p={p:?}");
    }
}
