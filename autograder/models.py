"""Models a notebook exported (`coursekit.evidence.model_arrays`: Keras' JSON config and the
weights as plain arrays), rebuilt in the grader's process so that judges check a model's
structure and measure it on inputs the kernel never saw.

The config was written by the student's kernel, so it is read as data before anything is built:
every object it names must be one of the Keras layers the judge allows (or Keras' own plumbing:
models, input layers, dtype policies, initializers), no size in it may pass ``max_dimension``
(building allocates the weights it declares), and it is deserialised in Keras' safe mode with no
custom objects (no Lambda code, no student classes): where an exercise has the student write a
layer, the judge names a stand-in of its own that the rebuilt model uses in its place. The weights
must then match the rebuilt model's shapes exactly.
"""

import json

import numpy as np

from coursekit.evidence import unlisted

from .exports import ExportError

PLUMBING = {"Functional", "Sequential", "InputLayer", "DTypePolicy", "FloatDTypePolicy", "__keras_tensor__"}
"""Classes every Keras config names besides its layers."""
PLUMBING_MODULES = ("keras.initializers", "keras.regularizers", "keras.constraints")
SIZES = ("units", "filters", "input_dim", "output_dim", "batch_shape", "target_shape", "kernel_size")


def rebuilt(evidence: dict, name: str, layers: set[str], max_dimension: int = 4096, stand_ins: dict | None = None):
    """The model exported under ``name`` (`coursekit.evidence.model_arrays`), rebuilt with its
    weights; ExportError if its config names anything but ``layers``, the classes ``stand_ins``
    replaces (the grader's own layer for each class name) and Keras' plumbing, declares a size past
    ``max_dimension``, or does not match its weights."""
    stand_ins = stand_ins or {}
    try:
        config = json.loads(str(evidence[f"{name}_config"]))
        config.pop("compile_config", None)  # the judge reads how it was compiled from the export's own entry
        weights = unlisted(evidence, f"{name}_weights")
    except (KeyError, ValueError, RecursionError, AttributeError, TypeError) as error:
        raise ExportError(f"the exported model {name} is incomplete or unreadable ({type(error).__name__})") from None
    _check_config(config, name, layers, max_dimension, set(stand_ins))
    import keras

    try:
        model = keras.models.model_from_json(json.dumps(config), custom_objects=stand_ins)
    except Exception as error:
        raise ExportError(f"the exported model {name} cannot be rebuilt ({type(error).__name__}: {str(error)[:200]})") from None
    shapes = [tuple(weight.shape) for weight in model.weights]
    if [tuple(np.shape(weight)) for weight in weights] != shapes or not all(np.asarray(w).dtype.kind in "fiu" for w in weights):
        raise ExportError(f"the exported weights of {name} do not fit its config (expected arrays of numbers of shapes {shapes})")
    model.set_weights(weights)
    for layer in model.layers:
        if layer.__class__.__name__ == "Normalization":
            layer.finalize_state()  # its mean and variance come from the weights just set
    return model


def compile_config(evidence: dict, name: str) -> dict | None:
    """How the model exported under ``name`` was compiled (Keras' compile config), None if it was not."""
    try:
        config = json.loads(str(evidence[f"{name}_compile"]))
    except (KeyError, ValueError, RecursionError) as error:
        raise ExportError(f"the exported model {name} does not say how it was compiled ({type(error).__name__})") from None
    if config is not None and not isinstance(config, dict):
        raise ExportError(f"the exported model {name} holds a compile config that is not one")
    return config


def optimizer_name(compiled: dict) -> str:
    """The class of the optimizer a compile config names ('Adam', 'SGD', ...)."""
    optimizer = compiled.get("optimizer")
    return str(optimizer.get("class_name") if isinstance(optimizer, dict) else optimizer)[:60]


def _check_config(node, name: str, layers: set[str], max_dimension: int, stand_ins: set[str]) -> None:
    """Walk the config: every object named is allowed, every size is bounded."""
    pending = [node]
    while pending:
        item = pending.pop()
        if isinstance(item, list):
            pending += item
        elif isinstance(item, dict):
            if "class_name" in item:
                kind, module = item.get("class_name"), str(item.get("module") or "")
                plainly_named = item.get("registered_name") in (None, kind)  # Keras looks classes up by it
                keras_own = module.startswith("keras") and plainly_named
                allowed = kind == "__keras_tensor__" or kind in stand_ins and plainly_named or keras_own and (
                    kind in layers or kind in PLUMBING or module.startswith(PLUMBING_MODULES))
                if not allowed:
                    raise ExportError(f"the exported model {name} uses {str(kind)[:60]} ({module[:60]}); the grader "
                                      f"rebuilds only {', '.join(sorted(layers | stand_ins))}")
            for key, value in item.items():
                if key in SIZES:
                    sizes = value if isinstance(value, list) else [value]
                    if any(isinstance(size, (int, float)) and not 0 <= size <= max_dimension for size in sizes):
                        raise ExportError(f"the exported model {name} declares {key} {str(value)[:60]}, past the "
                                          f"{max_dimension} the grader rebuilds")
                pending.append(value)
