"""The input pipelines: seeded shuffling and the model input, on tf.data."""
import numpy as np


def test_seeded_pipelines_shuffle_reproducibly_and_scale_to_the_model_input(keras):
    from dlcv.data import ImageSet
    from dlcv.pipeline import build_pipeline, training_pipeline
    from dlcv.training.plan import EpochPlan

    data = ImageSet(np.arange(40, dtype=np.uint8).reshape(40, 1, 1, 1), np.arange(40), ["a"])

    def epoch(pipeline):
        batches = [pipeline[i] for i in range(len(pipeline))] if hasattr(pipeline, "__getitem__") else list(pipeline)
        return (np.concatenate([keras.ops.convert_to_numpy(x) for x, _ in batches]),
                np.concatenate([keras.ops.convert_to_numpy(y) for _, y in batches]).tolist())

    first = epoch(training_pipeline(EpochPlan(data, None, 8, seed=3)))
    again = epoch(training_pipeline(EpochPlan(data, None, 8, seed=3)))
    assert first[1] == again[1] and first[1] != list(range(40)) and sorted(first[1]) == list(range(40))
    x, order = epoch(build_pipeline(data, 8))
    assert order == list(range(40))
    np.testing.assert_allclose(x.ravel(), np.arange(40) / 255.0, rtol=1e-6)  # uint8 -> [0, 1]
