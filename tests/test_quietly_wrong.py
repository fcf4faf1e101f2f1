"""What used to give a number without a word, and now gives the right one or says why
(issue 19, part 5): a cache shared by settings that cache different things, a report's n
that counted jobs rather than values, and predict on float images."""

import csv
import math

import pytest
import torch

from reglab.data import image_folder as imf
from reglab.data.errors import BadDataFileError
from reglab.report.jobs import Job
from reglab.report.summary import summarize, write_summary

from .conftest import write_image_folder


def test_the_image_cache_of_on_bad_file_skip_is_not_an_error_runs(make_config, tmp_path):
    """A cache made with dataset.on_bad_file=skip lacks the bad file; a run with =error used
    it and silently trained without that file. Now each setting has its own cache."""
    from reglab.app.settings import validate_config

    root = write_image_folder(tmp_path / "notes", per_class=10)
    (root / "100" / "broken.jpg").write_bytes(b"not a jpeg")
    overrides = ["dataset=rmb", f"dataset.root={root}"]
    skip = validate_config(make_config(*overrides, "dataset.on_bad_file=skip", fast=False)).dataset
    with pytest.warns(UserWarning, match="broken.jpg"):
        assert len(imf.load_images(skip)["skipped"]) == 1
    strict = validate_config(
        make_config(*overrides, "dataset.on_bad_file=error", fast=False)
    ).dataset
    with pytest.raises(BadDataFileError, match=r"Cannot read .*broken\.jpg"):
        imf.load_images(strict)
    assert imf.load_images(skip)["cache_hit"]  # skip's own cache is still used


def _job(tmp_path, name: str, seed: int, metrics: dict, rows: list[dict]) -> Job:
    record = {"status": "completed", **metrics}
    return Job(tmp_path / name, ["regularizer=dropout", f"seed={seed}"], record, rows)


def test_the_summary_counts_the_values_each_mean_is_over(tmp_path):
    """Two completed seeds, one of them without a test accuracy (test=false, or NaN): the
    summary showed the row with 2 seeds and a test/acc that is one job's, as if over two."""
    jobs = [
        _job(tmp_path, "0", 0, {"test/acc": 0.8, "val/acc_best": 0.7}, []),
        _job(tmp_path, "1", 1, {"test/acc": math.nan, "val/acc_best": 0.9}, []),
    ]
    summaries, swept = summarize(jobs)
    write_summary(summaries, swept, tmp_path)
    (row,) = csv.DictReader((tmp_path / "summary.csv").read_text().splitlines())
    assert row["seeds"] == "2"
    assert (row["test/acc_mean"], row["test/acc_n"]) == ("0.8", "1")
    assert (float(row["val/acc_best_mean"]), row["val/acc_best_n"]) == (pytest.approx(0.8), "2")
    table = (tmp_path / "summary.md").read_text()
    assert "| 0.8000 (n=1) |" in table  # test/acc: one value
    assert "0.8000 ± 0.1414 |" in table  # val/acc_best: both, no n note


def test_the_curves_legend_counts_the_jobs_behind_each_point(tmp_path):
    from reglab.report import figures

    rows = [{"epoch": 0, "val/acc": 0.5}, {"epoch": 1, "val/acc": 0.6}]
    jobs = [  # the second job stopped after its first epoch
        _job(tmp_path, "0", 0, {"test/acc": 0.8}, rows),
        _job(tmp_path, "1", 1, {"test/acc": 0.7}, rows[:1]),
        _job(tmp_path, "2", 2, {"test/acc": 0.7}, []),  # no curve at all
    ]
    summaries, swept = summarize(jobs)
    labels = []
    original = figures.plt.Axes.plot

    def plot(ax, *args, **kwargs):
        labels.append(kwargs.get("label"))
        return original(ax, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(figures.plt.Axes, "plot", plot)
        figures.plot_curves_by_config(summaries, swept, tmp_path / "curves.png")
    # one curve; its label counts the jobs behind each point (the name is the figure style's)
    drawn = [label for label in labels if label]
    assert len(drawn) == 1 and drawn[0].endswith("(n=1-2)"), labels


def _module(info: dict):
    from reglab.config.compose import option
    from reglab.lit import RegLabModule

    model = option("model", "mlp") | {"hidden": [8]}
    optimizer = {"_target_": "torch.optim.SGD", "_partial_": True, "lr": 0.1}
    config = {"model": model, "regularizer": {}, "optimizer": optimizer}
    return RegLabModule(config=config | {"hardware": {"compile": False}}, info=info)


IMAGES = {
    "in_shape": [1, 28, 28],
    "num_outputs": 10,
    "task": "classification",
    "mean": [0.2860],
    "std": [0.3530],
    "uint8_images": True,
}


def test_predict_takes_uint8_images_and_floats_in_0_1_alike():
    """Floats in [0, 1] (torchvision's ToTensor) were standardised as if they were already
    prepared: wrong predictions (0.479 vs 0.649 accuracy) without a word."""
    module = _module(IMAGES)
    images = torch.randint(0, 256, (4, 1, 28, 28), dtype=torch.uint8)
    expected = module.predict(images)
    assert torch.allclose(module.predict(images.float() / 255), expected, atol=1e-5)
    prepared = (images.float() / 255 - 0.2860) / 0.3530
    assert torch.allclose(module.net.eval()(prepared), expected, atol=1e-5)


@pytest.mark.parametrize("scale", ["0-255 floats", "standardised"])
def test_predict_refuses_float_images_it_cannot_read(scale):
    module = _module(IMAGES)
    images = torch.randint(0, 256, (4, 1, 28, 28)).float()
    if scale == "standardised":
        images = (images / 255 - 0.2860) / 0.3530
    with pytest.raises(ValueError, match=r"trained on uint8 images; it takes them as uint8"):
        module.predict(images)


def test_predict_gives_regression_features_as_they_are():
    module = _module({"in_shape": [3], "num_outputs": 1, "task": "regression"})
    features = torch.tensor([[10.0, -4.0, 300.0]])
    assert torch.equal(module.predict(features), module.net.eval()(features))


def test_predict_of_an_old_checkpoint_without_the_key_still_prepares_images():
    old = {k: v for k, v in IMAGES.items() if k != "uint8_images"}
    module = _module(old)
    images = torch.randint(0, 256, (2, 1, 28, 28), dtype=torch.uint8)
    assert torch.allclose(module.predict(images.float() / 255), module.predict(images))
    with pytest.raises(ValueError):
        module.predict(images.float())


def test_a_topic_table_counts_the_values_each_mean_is_over():
    """The experiments' own tables (dropout_table.md, ...) have a seeds column counting
    jobs; a mean over fewer (a diverged seed's NaN) says how many it averaged."""
    from reglab.report.topic_tools import fmt, mean_std

    assert fmt(mean_std([0.8, math.nan, 0.6])) == "0.7000 ± 0.1414 (n=2)"
    assert fmt(mean_std([0.8, 0.6])) == "0.7000 ± 0.1414"
    mean, std = mean_std([1.0, None])  # still a (mean, std) pair where one is unpacked
    assert (mean, std) == (1.0, 0.0)
