"""A small safetensors reader and writer in plain Python (struct + json), so the reference and the fixture
scripts need nothing beyond PyTorch and NumPy.

Layout: an 8-byte little-endian header length N, N bytes of JSON header {name: {"dtype", "shape",
"data_offsets": [begin, end]}, optional "__metadata__": {str: str}} padded with spaces to a multiple of 8,
then the raw little-endian data; offsets are relative to the start of the data section.
"""

import json
import os
import struct

import numpy as np
import torch

# safetensors dtype name -> (numpy little-endian dtype, torch dtype). BF16 has no numpy type: it travels as
# raw 16-bit words and is viewed as torch.bfloat16.
_DTYPES = {
    "F64": (np.dtype("<f8"), torch.float64),
    "F32": (np.dtype("<f4"), torch.float32),
    "F16": (np.dtype("<f2"), torch.float16),
    "BF16": (np.dtype("<u2"), torch.bfloat16),
    "I64": (np.dtype("<i8"), torch.int64),
    "I32": (np.dtype("<i4"), torch.int32),
    "I16": (np.dtype("<i2"), torch.int16),
    "I8": (np.dtype("i1"), torch.int8),
    "U8": (np.dtype("u1"), torch.uint8),
    "BOOL": (np.dtype("?"), torch.bool),
}
_TORCH_TO_NAME = {torch_dtype: name for name, (_, torch_dtype) in _DTYPES.items()}


def _to_bytes(tensor):
    """(dtype name, shape, little-endian bytes) of a torch tensor or numpy array."""
    if isinstance(tensor, np.ndarray):
        tensor = torch.from_numpy(np.ascontiguousarray(tensor))
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"expected a torch.Tensor or numpy.ndarray, found {type(tensor).__name__}")
    tensor = tensor.detach().cpu().contiguous()
    if tensor.dtype not in _TORCH_TO_NAME:
        raise TypeError(f"dtype {tensor.dtype} has no safetensors name here")
    name = _TORCH_TO_NAME[tensor.dtype]
    np_dtype = _DTYPES[name][0]
    if tensor.dtype == torch.bfloat16:
        array = tensor.view(torch.int16).numpy().view(np.uint16)
    else:
        array = tensor.numpy()
    return name, list(tensor.shape), array.astype(np_dtype, copy=False).tobytes()


def save(path, tensors, metadata=None):
    """Writes {name: tensor} to path atomically (a temporary file renamed over the target). Tensors keep
    their dtype; data is laid out in the order of the dict."""
    header = {}
    chunks = []
    offset = 0
    for name, tensor in tensors.items():
        dtype, shape, data = _to_bytes(tensor)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    if metadata:
        for key, value in metadata.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise TypeError(f"metadata must map str to str, found {key!r}: {value!r}")
        header = {"__metadata__": dict(metadata), **header}
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    header_bytes += b" " * ((8 - len(header_bytes) % 8) % 8)
    temporary = f"{path}.tmp{os.getpid()}"
    with open(temporary, "wb") as file:
        file.write(struct.pack("<Q", len(header_bytes)))
        file.write(header_bytes)
        for chunk in chunks:
            file.write(chunk)
    os.replace(temporary, path)


def load_with_metadata(path):
    """({name: torch tensor}, metadata) from path, validating the header against the file size."""
    with open(path, "rb") as file:
        blob = file.read()
    if len(blob) < 8:
        raise ValueError(f"{path}: {len(blob)} bytes, too short for the 8-byte header length")
    (header_length,) = struct.unpack("<Q", blob[:8])
    if 8 + header_length > len(blob):
        raise ValueError(f"{path}: header length {header_length} runs past the end of the file ({len(blob)} bytes)")
    header = json.loads(blob[8 : 8 + header_length].decode("utf-8"))
    data = memoryview(blob)[8 + header_length :]
    metadata = header.pop("__metadata__", None) or {}
    tensors = {}
    for name, entry in header.items():
        dtype = entry["dtype"]
        if dtype not in _DTYPES:
            raise ValueError(f"{path}: tensor {name!r} has unsupported dtype {dtype}")
        np_dtype, torch_dtype = _DTYPES[dtype]
        shape = [int(size) for size in entry["shape"]]
        begin, end = entry["data_offsets"]
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if not 0 <= begin <= end <= len(data) or end - begin != count * np_dtype.itemsize:
            raise ValueError(f"{path}: tensor {name!r} ({dtype} {shape}) has data offsets [{begin}, {end}] "
                             f"that do not fit {count} elements in a data section of {len(data)} bytes")
        array = np.frombuffer(data[begin:end], dtype=np_dtype).reshape(shape).copy()
        if torch_dtype == torch.bfloat16:
            tensors[name] = torch.from_numpy(array.view(np.int16)).view(torch.bfloat16)
        else:
            tensors[name] = torch.from_numpy(array.astype(np_dtype.newbyteorder("="), copy=False))
    return tensors, metadata


def load(path):
    """{name: torch tensor} from path."""
    return load_with_metadata(path)[0]
