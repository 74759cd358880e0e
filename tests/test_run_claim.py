"""Which config changes a resumed run can take (resume_changes): the rules alone, no training."""
import pytest

from dlcv.config import load_config
from dlcv.training.run_claim import resume_changes


def changes(*overrides: str, saved: tuple[str, ...] = ()) -> tuple[list[str], list[str]]:
    return resume_changes(load_config(overrides=list(saved)), load_config(overrides=list(saved) + list(overrides)))


def test_more_epochs_a_moved_dataset_and_callbacks_apply():
    applied, refused = changes("epochs=40", "dataset.path=/new/place", "callbacks.monitor=false")
    assert refused == []
    assert applied == ["callbacks.monitor True -> False", "dataset.path None -> '/new/place'", "epochs 30 -> 40"]


@pytest.mark.parametrize("override, change", [
    ("model.name=lenet", "model.name 'mlp' -> 'lenet'"),
    ("preprocessing.width=16", "preprocessing.width None -> 16"),
    ("optimizer.name=adam", "optimizer.name 'sgd' -> 'adam'"),
    ("schedule.name=cosine", "schedule.name 'constant' -> 'cosine'"),
    ("seed=7", "seed 42 -> 7"),
    ("batch_size=64", "batch_size 32 -> 64"),
    ("dataset.val_size=0.2", "dataset.val_size 0.1 -> 0.2"),
    ("precision=mixed_bfloat16", "precision 'float32' -> 'mixed_bfloat16'"),
])
def test_what_defines_the_saved_model_or_its_optimizer_is_refused(override, change):
    applied, refused = changes(override)
    assert change in refused and not any(c.startswith(change.split()[0]) for c in applied)


def test_the_description_and_the_books_figures_are_ignored():
    assert changes("description=another", "book={accuracy: 0.9}") == ([], [])


def test_preprocessing_left_to_the_data_is_not_a_change():
    """The saved run resolved "as the data has it" to a size; a config that leaves it open is not another size."""
    applied, refused = resume_changes(load_config(overrides=["preprocessing.width=8"]), load_config())
    assert (applied, refused) == ([], [])


def test_a_fine_tune_phase_cannot_be_added_or_moved():
    _, added = changes("fine_tune={epochs: 2}")
    assert "fine_tune.unfreeze None -> 'all'" in added
    _, moved = changes("epochs=40", saved=("fine_tune={epochs: 2}",))
    assert moved == ["epochs 30 -> 40"]
    applied, refused = changes("fine_tune.epochs=5", saved=("fine_tune={epochs: 2}",))
    assert applied == ["fine_tune.epochs 2 -> 5"] and refused == []


def test_a_multi_label_run_cannot_resume_as_single_label_and_auto_takes_the_saved_task():
    saved = load_config(overrides=["task=multilabel"])
    assert changes_between(saved, "task=single")[1] == ["task 'multilabel' -> 'single'"]
    assert changes_between(saved, "task=auto") == ([], [])


def changes_between(saved, *overrides: str) -> tuple[list[str], list[str]]:
    return resume_changes(saved, load_config(overrides=["task=multilabel", *overrides]))
