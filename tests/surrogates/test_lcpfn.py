"""LC-PFN: the prior, the bar distribution, the network's masking, the API and loading.

A tiny randomly initialised network stands in for the trained one: these tests check
behaviour (shapes, conventions, consistency), never the quality of shipped weights.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hpo.errors import HPOError  # noqa: E402
from hpo.surrogates.lcpfn import LCPFN  # noqa: E402
from hpo.surrogates.lcpfn.model import BarDistribution, LCPFNConfig, LCPFNet  # noqa: E402
from hpo.surrogates.lcpfn.prior import CurvePrior  # noqa: E402


def test_prior_matches_its_published_sanity_check():
    prior = CurvePrior()
    noisy, clean = prior.draw(40_000, np.random.default_rng(0))
    keep = prior.accept(noisy, clean)
    assert 0.17 < keep.mean() < 0.23  # about 20% accepted
    assert 0.58 < np.median(clean[keep][:, -1]) < 0.68  # median final value about 0.63
    curves = prior.sample(500, np.random.default_rng(1))
    assert curves.shape == (500, 100) and np.isfinite(curves).all()
    assert np.array_equal(curves, prior.sample(500, np.random.default_rng(1)))  # explicit RNG


def test_bar_distribution_is_a_density_with_consistent_cdf_and_quantiles():
    bar = BarDistribution(torch.linspace(0.0, 1.0, 11))
    logits = torch.randn(3, 10)
    grid = torch.linspace(-3, 4, 20001)
    dens = bar.log_prob(logits.unsqueeze(1).expand(3, len(grid), 10), grid.expand(3, -1)).exp()
    mass = torch.trapezoid(dens, grid, dim=-1)
    assert torch.allclose(mass, torch.ones(3), atol=2e-3)
    for q in (0.01, 0.3, 0.5, 0.9, 0.999):
        y = bar.icdf(logits, q)
        assert torch.allclose(bar.cdf(logits, y), torch.full((3,), q), atol=1e-4)
    assert torch.all(bar.icdf(logits, 0.001) < 0.0) and torch.all(bar.icdf(logits, 0.9999) > 1.0)  # tails


def test_wide_outer_buckets_do_not_drag_the_mean_away():
    """Equal-mass borders from noisy prior draws give outer buckets several units wide; the
    tails' scale is capped, so mass there moves the mean by a bounded amount."""
    from hpo.surrogates.lcpfn.model import TAIL_WIDTH_CAP

    bar = BarDistribution(torch.tensor([-5.0, 0.0, 0.5, 1.0, 6.0]))
    low, high = torch.tensor([[9.0, -9.0, -9.0, -9.0]]), torch.tensor([[-9.0, -9.0, -9.0, 9.0]])
    assert -2 * TAIL_WIDTH_CAP < float(bar.mean(low)) < 0.0
    assert 1.0 < float(bar.mean(high)) < 1.0 + 2 * TAIL_WIDTH_CAP
    assert float(bar.icdf(low, 0.5)) == pytest.approx(-TAIL_WIDTH_CAP, rel=1e-3)  # half the tail lies within the cap


def test_queries_see_only_the_observed_prefix():
    torch.manual_seed(0)
    net = LCPFNet(LCPFNConfig(emsize=16, nlayers=2, nhead=2, nhid=32, n_buckets=20)).eval()
    x = torch.arange(1, 11, dtype=torch.float32).expand(1, -1)
    y = torch.rand(1, 10)
    with torch.no_grad():
        one = net(x[:, :4], y[:, :4], x[:, 9:])
        many = net(x[:, :4], y[:, :4], x[:, 4:])  # more queries do not change a query's answer
    assert torch.allclose(one[0, 0], many[0, -1], atol=1e-5)


@pytest.mark.parametrize("n_obs", [0, 1, 7])
def test_prefix_attention_equals_the_masked_encoder(n_obs):
    """The fast forward (keys and values from the prefix only) computes what a standard
    masked ``nn.TransformerEncoder`` over the same weights computes."""
    from hpo.surrogates.lcpfn.model import X_SCALE, Y_MEAN, Y_STD

    torch.manual_seed(1)
    net = LCPFNet(LCPFNConfig(emsize=16, nlayers=3, nhead=4, nhid=32, n_buckets=20)).eval()
    x = torch.arange(1, 13, dtype=torch.float32).expand(5, -1)
    y = torch.rand(5, 12)
    obs = net.x_encoder((x[:, :n_obs] / X_SCALE).unsqueeze(-1)) + net.y_encoder(((y[:, :n_obs] - Y_MEAN) / Y_STD).unsqueeze(-1))
    tokens = torch.cat([obs, net.x_encoder((x[:, n_obs:] / X_SCALE).unsqueeze(-1))], dim=1)
    mask = torch.ones(12, 12, dtype=torch.bool)
    mask[:, :n_obs] = False
    if n_obs == 0:
        mask.fill_diagonal_(False)
    with torch.no_grad():
        reference = net.head(net.encoder(tokens, mask=mask)[:, n_obs:])
        fast = net(x[:, :n_obs], y[:, :n_obs], x[:, n_obs:])
    assert torch.allclose(fast, reference, atol=1e-5)


def test_chunked_inference_gives_the_same_answers(monkeypatch):
    import hpo.surrogates.lcpfn as lcpfn_module

    pfn = LCPFN.untrained(seed=3)
    rng = np.random.default_rng(0)
    xs = [np.arange(1, 9)] * 10
    ys = [np.sort(rng.uniform(0, 1, 8)) for _ in range(10)]
    whole = pfn.predict_mean(xs, ys, [[50, 100]] * 10)
    monkeypatch.setattr(lcpfn_module, "CHUNK_CURVES", 3)  # 10 curves in chunks of 3, 3, 3, 1
    chunked = pfn.predict_mean(xs, ys, [[50, 100]] * 10)
    np.testing.assert_allclose(np.stack(chunked), np.stack(whole), atol=1e-6)


@pytest.fixture(scope="module")
def pfn():
    return LCPFN.untrained(seed=0)


def test_quantiles_are_ordered_and_batched_over_ragged_curves(pfn):
    x_obs = [[1, 2, 3], [1, 2], [1, 2, 3]]
    y_obs = [[0.2, 0.3, 0.35], [0.5, 0.55], [0.1, 0.1, 0.2]]
    out = pfn.predict_quantiles(x_obs, y_obs, [[50, 100], [100], [10, 20]], qs=(0.1, 0.5, 0.9))
    assert [o.shape for o in out] == [(2, 3), (1, 3), (2, 3)]
    assert all(np.all(np.diff(o, axis=-1) >= 0) for o in out)
    single = pfn.predict_quantiles([x_obs[1]], [y_obs[1]], [[100]], qs=(0.1, 0.5, 0.9))[0]
    assert np.allclose(single, out[1], atol=1e-5)  # batching does not change an answer


def test_minimising_and_ranges_mirror_the_maximising_answer(pfn):
    acc = [0.2, 0.3, 0.35]
    loss = [2.0 * (1 - a) for a in acc]  # the same curve as a loss in [0, 2]
    up = pfn.predict_quantiles([[1, 2, 3]], [acc], [[100]], qs=(0.1, 0.5, 0.9))[0]
    down = pfn.predict_quantiles([[1, 2, 3]], [loss], [[100]], qs=(0.1, 0.5, 0.9), maximize=False, y_range=(0, 2))[0]
    assert np.allclose(down, 2.0 * (1 - up[:, ::-1]), atol=1e-4)
    p_up = pfn.prob_improvement([[1, 2, 3]], [acc], x_final=100, threshold=0.6)
    p_down = pfn.prob_improvement([[1, 2, 3]], [loss], x_final=100, threshold=0.8, maximize=False, y_range=(0, 2))
    assert np.allclose(p_up, p_down, atol=1e-5) and 0 <= p_up[0] <= 1
    med = pfn.predict_quantiles([[1, 2, 3]], [acc], [[100]], qs=(0.5,))[0][0, 0]
    assert pfn.prob_improvement([[1, 2, 3]], [acc], 100, med)[0] == pytest.approx(0.5, abs=1e-3)


def test_curves_longer_than_training_are_compressed_in_time(pfn):
    long = pfn.predict_mean([[100, 200]], [[0.3, 0.4]], [[400]])[0]
    short = pfn.predict_mean([[25, 50]], [[0.3, 0.4]], [[100]])[0]
    assert np.allclose(long, short, atol=1e-5)


def test_bad_input_names_the_curve(pfn):
    with pytest.raises(HPOError, match="curve 0: 3 epochs but 2 values"):
        pfn.predict_mean([[1, 2, 3]], [[0.1, 0.2]], [[10]])
    with pytest.raises(HPOError, match="1-based"):
        pfn.predict_mean([[0, 1]], [[0.1, 0.2]], [[10]])
    with pytest.raises(HPOError, match="y_range"):
        pfn.predict_mean([[1]], [[0.1]], [[10]], y_range=(1, 1))


def test_saved_weights_load_with_weights_only_and_give_the_same_answers(tmp_path, pfn):
    from hpo.surrogates.lcpfn.train import save

    save(pfn.net, {"version": "test", "config": pfn.net.config.to_dict()}, tmp_path)
    again = LCPFN.load(tmp_path)
    assert again.version == "test"
    args = ([[1, 2, 3]], [[0.2, 0.3, 0.35]], [[100]])
    assert np.allclose(again.predict_mean(*args)[0], pfn.predict_mean(*args)[0])
    meta = json.loads((tmp_path / "lcpfn.json").read_text())
    meta["config"]["emsize"] = 32
    (tmp_path / "lcpfn.json").write_text(json.dumps(meta))
    with pytest.raises(HPOError, match="do not match"):
        LCPFN.load(tmp_path)
    with pytest.raises(HPOError, match="no LC-PFN weights"):
        LCPFN.load(tmp_path / "missing")


def test_training_runs_a_few_steps_and_writes_loadable_weights(tmp_path):
    from hpo.surrogates.lcpfn.train import main

    main(["--out", str(tmp_path), "--minutes", "0.05", "--emsize", "16", "--nlayers", "1", "--nhead", "2",
          "--nhid", "32", "--buckets", "50", "--batch", "8", "--threads", "1"])  # fmt: skip
    meta = json.loads((tmp_path / "lcpfn.json").read_text())
    assert meta["finished"] and meta["steps"] > 0 and np.isfinite(meta["final_loss"])
    assert "python -m hpo.surrogates.lcpfn.train --out" in meta["command"]
    assert LCPFN.load(tmp_path).predict_mean([[1]], [[0.5]], [[10]])[0].shape == (1,)


def test_curve_stream_is_reproducible_in_process_and_in_sampler_processes():
    from hpo.surrogates.lcpfn.train import CurveStream

    local = CurveStream(100, seed=5)
    pooled = CurveStream(100, seed=5, procs=1)
    try:
        a = np.concatenate([local.take(3000), local.take(3000)])  # crosses a 4096-curve chunk
        b = np.concatenate([pooled.take(5000), pooled.take(1000)])
    finally:
        pooled.close()
    assert a.shape == (6000, 100) and np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)  # same chunks from the same spawned seeds, whoever draws them
    assert not np.allclose(a[:100], a[4096:4196])  # each chunk has its own seed
    other = CurveStream(100, seed=6).take(10)
    assert not np.allclose(other, a[:10])


def test_log_density_agrees_with_the_cdf_and_the_units(pfn):
    x, y = [[1, 2, 3]], [[0.2, 0.3, 0.35]]
    grid = np.linspace(-0.5, 1.5, 4001)
    dens = np.exp(pfn.log_density(x * len(grid), y * len(grid), [[100]] * len(grid), [[g] for g in grid]))
    dens = np.concatenate(dens)
    assert np.trapezoid(dens, grid) == pytest.approx(1.0, abs=0.01)
    # the same curve in percent: densities scale by 1/100
    pct = pfn.log_density([[1, 2, 3]], [[20.0, 30.0, 35.0]], [[100]], [[50.0]], y_range=(0, 100))[0]
    unit = pfn.log_density(x, y, [[100]], [[0.5]])[0]
    assert pct[0] == pytest.approx(unit[0] - np.log(100), abs=1e-5)


@pytest.mark.parametrize("variant", ["mixture", "paper"])
def test_the_shipped_weights_load_offline_and_extrapolate_sensibly(variant):
    from hpo.surrogates.lcpfn import VARIANTS, WEIGHTS_DIR

    assert variant in VARIANTS
    pfn = LCPFN.load(variant=variant)  # from the package folder, with weights_only=True
    meta = json.loads((WEIGHTS_DIR / variant / "lcpfn.json").read_text())
    assert pfn.version == meta["version"] and meta["command"].startswith("python -m hpo.surrogates.lcpfn.train")
    assert sum(p.stat().st_size for p in WEIGHTS_DIR.rglob("lcpfn.pt")) < 25 * 2**20  # all variants together
    x = np.arange(1, 21)
    rising = 0.8 - 0.5 * x ** -0.7  # a typical curve, observed for 20 of 100 epochs
    q = pfn.predict_quantiles([x], [rising], [[100]], qs=(0.05, 0.5, 0.95))[0][0]
    assert q[0] < q[1] < q[2]
    assert rising[-1] - 0.05 < q[1] < 1.0  # it expects the curve to stay near or above where it is


def test_the_default_variant_is_the_mixture_and_bad_variants_are_refused(tmp_path):
    from hpo.surrogates.lcpfn import DEFAULT_VARIANT

    assert DEFAULT_VARIANT == "mixture"
    assert LCPFN.load().version == LCPFN.load(variant="mixture").version
    with pytest.raises(HPOError, match="unknown LC-PFN variant 'bayes'"):
        LCPFN.load(variant="bayes")
    with pytest.raises(HPOError, match="not both"):
        LCPFN.load(tmp_path, variant="paper")


def test_the_mixture_weights_fit_the_mixture_better_and_the_papers_prior_nearly_as_well():
    """Held-out curves of each prior, observed for 20 of 100 epochs: mean log density of the rest."""
    from hpo.surrogates.lcpfn.prior import MixturePrior

    rng = np.random.default_rng(2024)  # training used other seeds
    sets = {"paper": CurvePrior().sample(300, rng), "mixture": MixturePrior().sample(300, rng)}
    ll = {}
    for variant in ("mixture", "paper"):
        pfn = LCPFN.load(variant=variant)
        for prior, curves in sets.items():
            x = [np.arange(1, 21)] * len(curves)
            xq = [np.arange(21, 101)] * len(curves)
            dens, _ = pfn.score(x, [c[:20] for c in curves], xq, [c[20:] for c in curves])
            ll[variant, prior] = float(np.mean([d.mean() for d in dens]))
    assert ll["mixture", "mixture"] > ll["paper", "mixture"] + 0.1
    assert ll["mixture", "paper"] > ll["paper", "paper"] - 0.1



def test_score_gives_log_density_and_mean_from_one_pass(pfn):
    x, y = [[1, 2, 3], [1, 2]], [[20.0, 30.0, 35.0], [50.0, 40.0]]
    xq, yq = [[10, 100], [5]], [[40.0, 50.0], [45.0]]
    logd, means = pfn.score(x, y, xq, yq, y_range=(0, 100), maximize=False)
    expect_logd = pfn.log_density(x, y, xq, yq, y_range=(0, 100), maximize=False)
    expect_mean = pfn.predict_mean(x, y, xq, y_range=(0, 100), maximize=False)
    for got, want in zip(logd + means, expect_logd + expect_mean, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5)
