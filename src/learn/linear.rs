//! The linear models: multinomial logistic regression by SGD, and complement naive Bayes (kept
//! for comparison; see the module documentation of [`crate::learn`] for the measurements).
//!
//! Both produce the same thing, a weight matrix and a bias per class, so prediction, calibration
//! and explanation do not care which one trained it.

use serde::{Deserialize, Serialize};

use super::features::Row;

/// Which learner fits a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Algorithm {
    LogisticRegression,
    ComplementNaiveBayes,
}

/// How the learner is run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinearConfig {
    pub algorithm: Algorithm,
    /// L2 strength per example (logistic regression).
    pub l2: f32,
    /// Passes over the data; with fewer examples, more passes (see [`epochs_for`]).
    pub epochs: usize,
    /// Initial learning rate (the rows have norm 1, so 0.5 is a safe start).
    pub learning_rate: f32,
    /// Additive smoothing (complement naive Bayes).
    pub alpha: f32,
    /// Seed of the shuffles, so that training is reproducible.
    pub seed: u64,
    /// Logistic regression only: the complement naive Bayes weights of the same data, times this,
    /// are added to the logistic weights (a product of the two experts, which is still one
    /// linear model). 0 = logistic regression alone.
    #[serde(default)]
    pub cnb_mix: f32,
    /// Examples of a class weigh `(mean class size / class size)^class_balance`: 0 = as given,
    /// 1 = every class counts the same in total.
    #[serde(default)]
    pub class_balance: f32,
    /// Logistic regression only: the returned weights are the average of the iterates over the
    /// last `averaged` share of the passes (Polyak–Ruppert averaging; 0 = the last iterate).
    #[serde(default)]
    pub averaged: f32,
}

impl Default for LinearConfig {
    fn default() -> Self {
        LinearConfig {
            algorithm: Algorithm::LogisticRegression,
            l2: 3e-5,
            epochs: 30,
            learning_rate: 0.5,
            alpha: 0.3,
            seed: 13,
            cnb_mix: 0.0,
            class_balance: 1.0,
            averaged: 0.0,
        }
    }
}

/// Passes for `n` examples: `epochs` for a corpus-sized set, fewer for a large one, never fewer
/// than 3. What SGD needs is enough steps (about 300,000 here), not passes: 100,000 tickets get
/// there in 3, and each pass over them costs seconds.
pub(crate) fn epochs_for(n: usize, cfg: &LinearConfig) -> usize {
    let budget = 300_000 / n.max(1);
    cfg.epochs.min(budget).max(3)
}

/// A weight per (feature, class), stored feature-major so one feature's classes are contiguous
/// (the inner loop of both scoring and training), and a bias per class.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Linear {
    pub n_classes: usize,
    pub weights: Vec<f32>,
    pub bias: Vec<f32>,
}

impl Linear {
    pub(crate) fn scores(&self, row: &Row, out: &mut Vec<f32>) {
        out.clear();
        out.extend_from_slice(&self.bias);
        let c = self.n_classes;
        for &(col, v) in row {
            let w = &self.weights[col as usize * c..col as usize * c + c];
            for (o, w) in out.iter_mut().zip(w) {
                *o += w * v;
            }
        }
    }
}

/// In-place softmax of scores divided by `temperature`.
pub(crate) fn softmax(scores: &mut [f32], temperature: f32) {
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for s in scores.iter_mut() {
        *s = ((*s - max) / temperature).exp();
        sum += *s;
    }
    for s in scores.iter_mut() {
        *s /= sum;
    }
}

/// A small, seedable generator (SplitMix64): shuffles must be reproducible and need no crate.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    pub(crate) fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

/// The training set of one field: rows, class indices and example weights (mean 1).
pub(crate) struct Dataset<'a> {
    pub rows: Vec<&'a Row>,
    pub classes: Vec<u32>,
    pub weights: Vec<f32>,
    pub n_classes: usize,
    pub n_features: usize,
}

pub(crate) fn fit(data: &Dataset, cfg: &LinearConfig) -> Linear {
    let balanced;
    let data = if cfg.class_balance > 0.0 {
        let mut size = vec![0f32; data.n_classes];
        for (&y, &w) in data.classes.iter().zip(&data.weights) {
            size[y as usize] += w;
        }
        let present = size.iter().filter(|&&s| s > 0.0).count().max(1);
        let mean = size.iter().sum::<f32>() / present as f32;
        let mut weights: Vec<f32> = data
            .classes
            .iter()
            .zip(&data.weights)
            .map(|(&y, &w)| w * (mean / size[y as usize]).powf(cfg.class_balance))
            .collect();
        let m = weights.iter().sum::<f32>() / weights.len().max(1) as f32;
        weights.iter_mut().for_each(|w| *w /= m);
        balanced = Dataset {
            rows: data.rows.clone(),
            classes: data.classes.clone(),
            weights,
            n_classes: data.n_classes,
            n_features: data.n_features,
        };
        &balanced
    } else {
        data
    };
    match cfg.algorithm {
        Algorithm::LogisticRegression => {
            let mut lr = fit_logistic(data, cfg);
            if cfg.cnb_mix > 0.0 {
                let nb = fit_complement_nb(data, cfg);
                for (w, v) in lr.weights.iter_mut().zip(&nb.weights) {
                    *w += cfg.cnb_mix * v;
                }
            }
            lr
        }
        Algorithm::ComplementNaiveBayes => fit_complement_nb(data, cfg),
    }
}

/// Multinomial logistic regression, weighted, L2, by plain SGD with a decreasing step
/// (`η_t = η₀ / (1 + η₀·λ·t)`, Bottou's schedule). L2 decay is applied lazily through a scale
/// factor (`w = scale · v`), so one step costs only the example's non-zeros times the classes.
/// Full-batch methods (L-BFGS) need a hundred passes; SGD needs a few, which is what makes
/// 100,000 tickets trainable in seconds.
fn fit_logistic(data: &Dataset, cfg: &LinearConfig) -> Linear {
    let c = data.n_classes;
    let mut v = vec![0f32; data.n_features * c];
    let mut bias = vec![0f32; c];
    let mut scale = 1f64;
    let mut order: Vec<usize> = (0..data.rows.len()).collect();
    let mut rng = Rng::new(cfg.seed);
    let mut p = vec![0f32; c];
    let lambda = f64::from(cfg.l2);
    let eta0 = f64::from(cfg.learning_rate);
    let mut t = 0f64;
    let epochs = epochs_for(data.rows.len(), cfg);
    // Averaging: from this pass on, the weights after each pass are summed.
    let average_from = if cfg.averaged > 0.0 {
        epochs - ((epochs as f32 * cfg.averaged).ceil() as usize).clamp(1, epochs)
    } else {
        epochs
    };
    let mut sum_w: Vec<f32> = Vec::new();
    let mut sum_b = vec![0f32; c];
    let mut summed = 0usize;
    for epoch in 0..epochs {
        rng.shuffle(&mut order);
        for &i in &order {
            let row = data.rows[i];
            let eta = eta0 / (1.0 + eta0 * lambda * t);
            t += 1.0;
            // Scores with the current weights.
            p.copy_from_slice(&bias);
            let s = scale as f32;
            for &(col, x) in row {
                let w = &v[col as usize * c..col as usize * c + c];
                for (p, w) in p.iter_mut().zip(w) {
                    *p += s * w * x;
                }
            }
            softmax(&mut p, 1.0);
            let y = data.classes[i] as usize;
            p[y] -= 1.0; // now the gradient of the loss with respect to the scores
            let g = data.weights[i] * eta as f32;
            // Decay first, then the gradient step, both on the true weights.
            scale *= 1.0 - eta * lambda;
            let step = g / scale as f32;
            for &(col, x) in row {
                let w = &mut v[col as usize * c..col as usize * c + c];
                for (w, p) in w.iter_mut().zip(&p) {
                    *w -= step * p * x;
                }
            }
            for (b, p) in bias.iter_mut().zip(&p) {
                *b -= g * p;
            }
            if scale < 1e-6 {
                for w in v.iter_mut() {
                    *w *= scale as f32;
                }
                scale = 1.0;
            }
        }
        if epoch >= average_from {
            if sum_w.is_empty() {
                sum_w = vec![0f32; v.len()];
            }
            let s = scale as f32;
            for (a, w) in sum_w.iter_mut().zip(&v) {
                *a += s * w;
            }
            for (a, b) in sum_b.iter_mut().zip(&bias) {
                *a += b;
            }
            summed += 1;
        }
    }
    if summed > 0 {
        let k = summed as f32;
        return Linear {
            n_classes: c,
            weights: sum_w.into_iter().map(|w| w / k).collect(),
            bias: sum_b.into_iter().map(|b| b / k).collect(),
        };
    }
    for w in v.iter_mut() {
        *w *= scale as f32;
    }
    Linear {
        n_classes: c,
        weights: v,
        bias,
    }
}

/// Complement naive Bayes (Rennie et al. 2003): a class's weight for a feature is minus the log
/// of that feature's smoothed share in all *other* classes' text, which copes with unbalanced
/// classes better than plain multinomial NB. No bias (uniform prior), as in the paper.
fn fit_complement_nb(data: &Dataset, cfg: &LinearConfig) -> Linear {
    let c = data.n_classes;
    let f = data.n_features;
    let mut per_class = vec![0f64; f * c];
    let mut total = vec![0f64; f];
    for ((row, &y), &w) in data.rows.iter().zip(&data.classes).zip(&data.weights) {
        for &(col, x) in row.iter() {
            per_class[col as usize * c + y as usize] += f64::from(w * x);
            total[col as usize] += f64::from(w * x);
        }
    }
    let alpha = f64::from(cfg.alpha);
    let mut complement_sum = vec![0f64; c];
    for col in 0..f {
        for k in 0..c {
            complement_sum[k] += total[col] - per_class[col * c + k] + alpha;
        }
    }
    let mut weights = vec![0f32; f * c];
    for col in 0..f {
        for k in 0..c {
            let share = (total[col] - per_class[col * c + k] + alpha) / complement_sum[k];
            weights[col * c + k] = -share.ln() as f32;
        }
    }
    // Centre each feature's weights across classes: softmax is unchanged by a per-feature
    // constant times x, and explanations then read as "for this class, against the others".
    for col in 0..f {
        let w = &mut weights[col * c..col * c + c];
        let mean = w.iter().sum::<f32>() / c as f32;
        w.iter_mut().for_each(|x| *x -= mean);
    }
    Linear {
        n_classes: c,
        weights,
        bias: vec![0.0; c],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> (Vec<Row>, Vec<u32>) {
        // Class 0 has feature 0, class 1 has feature 1, feature 2 is noise in both.
        let rows = vec![
            vec![(0, 0.9), (2, 0.4)],
            vec![(0, 1.0)],
            vec![(1, 0.9), (2, 0.4)],
            vec![(1, 1.0)],
        ];
        (rows, vec![0, 0, 1, 1])
    }

    fn check(algorithm: Algorithm) {
        let (rows, classes) = toy();
        let data = Dataset {
            rows: rows.iter().collect(),
            classes,
            weights: vec![1.0; 4],
            n_classes: 2,
            n_features: 3,
        };
        let model = fit(
            &data,
            &LinearConfig {
                algorithm,
                ..LinearConfig::default()
            },
        );
        let mut s = Vec::new();
        model.scores(&vec![(0, 1.0)], &mut s);
        assert!(s[0] > s[1], "{algorithm:?} {s:?}");
        model.scores(&vec![(1, 1.0)], &mut s);
        assert!(s[1] > s[0], "{algorithm:?} {s:?}");
    }

    #[test]
    fn both_learners_separate_a_separable_toy() {
        check(Algorithm::LogisticRegression);
        check(Algorithm::ComplementNaiveBayes);
    }

    #[test]
    fn weights_shift_the_decision() {
        // The same row labelled both ways: the heavier label wins. With class balancing, weights
        // matter inside a class (a third example of class 0 makes class 0's total the larger,
        // but balancing evens the totals, so the heavier *row* of class 1 still wins over the
        // lighter one of class 0 on the shared feature).
        let rows: Vec<Row> = vec![vec![(0, 1.0)], vec![(0, 1.0)], vec![(1, 1.0)]];
        let data = Dataset {
            rows: rows.iter().collect(),
            classes: vec![0, 1, 0],
            weights: vec![0.4, 1.6, 1.6],
            n_classes: 2,
            n_features: 2,
        };
        for class_balance in [0.0, 1.0] {
            let model = fit(
                &data,
                &LinearConfig {
                    class_balance,
                    ..LinearConfig::default()
                },
            );
            let mut s = Vec::new();
            model.scores(&vec![(0, 1.0)], &mut s);
            softmax(&mut s, 1.0);
            assert!(s[1] > 0.7, "balance {class_balance}: {s:?}");
        }
    }

    #[test]
    fn class_balance_lifts_a_rare_class() {
        // Nine examples of class 0 and one of class 1 share a feature: balanced, the rare class
        // gets about as much say on it as the common one (SGD with one heavy example is noisy,
        // hence the loose bounds).
        let rows: Vec<Row> = vec![vec![(0, 1.0)]; 10];
        let mut classes = vec![0; 10];
        classes[9] = 1;
        let data = Dataset {
            rows: rows.iter().collect(),
            classes,
            weights: vec![1.0; 10],
            n_classes: 2,
            n_features: 1,
        };
        let p1 = |class_balance: f32| {
            // Averaged iterates: with ten examples, the last SGD iterate depends on where the
            // rare example fell in the last pass.
            let model = fit(
                &data,
                &LinearConfig {
                    class_balance,
                    averaged: 1.0,
                    ..LinearConfig::default()
                },
            );
            let mut s = Vec::new();
            model.scores(&vec![(0, 1.0)], &mut s);
            softmax(&mut s, 1.0);
            s[1]
        };
        let (plain, balanced) = (p1(0.0), p1(1.0));
        assert!(plain < 0.3, "{plain}");
        assert!(
            balanced > plain + 0.2 && balanced < 0.8,
            "{plain} {balanced}"
        );
    }

    #[test]
    fn rng_is_reproducible() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        assert_eq!(
            (0..5).map(|_| a.next_u64()).collect::<Vec<_>>(),
            (0..5).map(|_| b.next_u64()).collect::<Vec<_>>()
        );
    }
}
