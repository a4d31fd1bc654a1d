"""Models a notebook exported (`coursekit.evidence.model_arrays`: Keras' JSON config and the
weights as plain arrays), rebuilt in the grader's process so that judges check a model's
structure and measure it on inputs the kernel never saw.

The config was written by the student's kernel, so it is read as data before anything is built:
every object it names must be one of the Keras layers the judge allows (or Keras' own plumbing:
models, input layers, dtype policies, initializers), no size in it may pass its bound (`SIZES`,
or the judge's own; building allocates the weights it declares), and it is deserialised in Keras'
safe mode with no custom objects (no Lambda code, no student classes): where an exercise has the
student write a layer, the judge names a stand-in of its own that the rebuilt model uses in its
place. The weights must then match the rebuilt model's shapes exactly. How the model was compiled
is read from the export as data too: the optimizer's class and rate, and Keras' own losses only.
"""

import json

import keras
import numpy as np

from coursekit.evidence import MODEL_CONFIG, unlisted

from .exports import ExportError

PLUMBING = {"Functional", "Sequential", "InputLayer", "DTypePolicy", "FloatDTypePolicy", "__keras_tensor__"}
"""Classes every Keras config names besides its layers."""
PLUMBING_MODULES = ("keras.initializers", "keras.regularizers", "keras.constraints")
MASK_OPS = {"NotEqual", "Cast"}
"""Keras ops a config may name: those an Embedding(mask_zero=True) adds to a functional graph
(other ops, Tile or Repeat, could make the grader allocate more than the config declares)."""
SIZES = {key: 4096 for key in ("units", "filters", "input_dim", "output_dim", "batch_shape", "target_shape", "kernel_size")}
"""The most each size in a config may declare, unless the judge says otherwise (a Dense layer of
4096 x 4096 weights takes 64 MB)."""


def rebuilt(evidence: dict, name: str, layers: set[str], sizes: dict[str, int] | None = None, stand_ins: dict | None = None):
    """The model exported under ``name`` (`coursekit.evidence.model_arrays`), rebuilt with its
    weights; ExportError if its config names anything but ``layers``, the classes ``stand_ins``
    replaces (the grader's own layer for each class name) and Keras' plumbing, declares a size past
    its bound (`SIZES`, updated by ``sizes``), or does not match its weights."""
    stand_ins = stand_ins or {}
    try:
        config = json.loads(str(evidence[name + MODEL_CONFIG]))
        config.pop("compile_config", None)  # the judge reads how it was compiled from the export's own entry
        weights = unlisted(evidence, f"{name}_weights")
    except (KeyError, ValueError, RecursionError, AttributeError, TypeError) as error:
        raise ExportError(f"the exported model {name} is incomplete or unreadable ({type(error).__name__})") from None
    _check_config(config, name, layers, SIZES | (sizes or {}), set(stand_ins))
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


def compiled_with(evidence: dict, name: str) -> dict:
    """`compile_config`, where the model must have been compiled (AssertionError, the student's
    mistake, if it was not)."""
    compiled = compile_config(evidence, name)
    assert compiled is not None, "the model is not compiled: call model.compile(...) before returning it"
    return compiled


def optimizer_name(compiled: dict) -> str:
    """The class of the optimizer a compile config names ('Adam', 'SGD', ...)."""
    optimizer = compiled.get("optimizer")
    return str(optimizer.get("class_name") if isinstance(optimizer, dict) else optimizer)[:60]


def learning_rate(compiled: dict) -> float:
    """The optimizer's learning rate a compile config names (NaN where it names none, or a schedule)."""
    optimizer = compiled.get("optimizer")
    rate = (optimizer.get("config") or {}).get("learning_rate") if isinstance(optimizer, dict) else None
    return float(rate) if isinstance(rate, (int, float)) else float("nan")


def compiled_loss(compiled: dict, name: str):
    """The loss a compile config names, rebuilt from Keras' own losses only (a name, a function of
    keras.losses saved by its name, or a keras.losses class with a config of plain values)."""
    loss = compiled.get("loss")
    if isinstance(loss, dict) and loss.get("class_name") == "function" and isinstance(loss.get("config"), str):
        loss = loss["config"]
    settings = loss.get("config") if isinstance(loss, dict) else None
    own_class = isinstance(loss, dict) and loss.get("module") == "keras.losses" and loss.get("registered_name") is None \
        and loss.get("class_name") != "LossFunctionWrapper" and isinstance(settings, dict) \
        and all(value is None or isinstance(value, (bool, int, float, str)) for value in settings.values())
    # (LossFunctionWrapper names a function to wrap: none is looked up from the notebook's config.)
    try:
        if isinstance(loss, str) or own_class:
            return keras.losses.get(loss)
    except (ValueError, TypeError):
        pass
    raise ExportError(f"the exported model {name} is compiled with a loss the grader does not rebuild "
                      f"({str(loss)[:100]}): use one of Keras' own losses")


def loss_evidence(compiled: dict, name: str, labels, outputs) -> dict:
    """What `coursekit.checks.common.compiled_loss_evidence` reports of the notebook's model,
    measured here: the compiled loss of ``outputs`` (the rebuilt model's) and the metrics tracked."""
    labels = np.asarray(labels)
    if np.ndim(outputs) == labels.ndim + 1 and np.shape(outputs)[-1] == 1:  # as fit() lines up (n,) labels with (n, 1) outputs
        labels = labels[..., None]
    value = keras.ops.convert_to_numpy(compiled_loss(compiled, name)(labels, outputs))
    metrics = compiled.get("metrics") or []
    names = [metric if isinstance(metric, str) else str((metric.get("config") or {}).get("name") or metric.get("class_name"))
             for metric in (metrics if isinstance(metrics, list) else [metrics]) if isinstance(metric, (str, dict))]
    return {"loss": float(np.mean(value)), "tracked": ["loss", *names]}


def _check_config(node, name: str, layers: set[str], bounds: dict[str, int], stand_ins: set[str]) -> None:
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
                    kind in layers or kind in PLUMBING or module.startswith(PLUMBING_MODULES)
                    or kind in MASK_OPS and module.startswith("keras.src.ops"))
                if not allowed:
                    raise ExportError(f"the exported model {name} uses {str(kind)[:60]} ({module[:60]}); the grader "
                                      f"rebuilds only {', '.join(sorted(layers | stand_ins))}")
            for key, value in item.items():
                if key in bounds:
                    sizes = value if isinstance(value, list) else [value]
                    if any(isinstance(size, (int, float)) and not 0 <= size <= bounds[key] for size in sizes):
                        raise ExportError(f"the exported model {name} declares {key} {str(value)[:60]}, past the "
                                          f"{bounds[key]} the grader rebuilds")
                pending.append(value)
