"""Tiny NumPy files the .npy / .npz reader is tested on (test/data/npy/), written by NumPy itself.

    /usr/bin/python3 models/scripts/npy_fixtures.py
"""
import io
import os
import zipfile

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "data", "npy")


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    x = (np.arange(2 * 1 * 2 * 3, dtype=np.float32).reshape(2, 1, 2, 3) - 5) / 4  # exact in float16 too
    np.save(os.path.join(OUT, "f4.npy"), x)
    np.save(os.path.join(OUT, "f8-big-endian.npy"), x.astype(">f8"))
    np.save(os.path.join(OUT, "f2.npy"), x.astype(np.float16))
    np.save(os.path.join(OUT, "fortran.npy"), np.asfortranarray(x[0, 0]))
    np.save(os.path.join(OUT, "labels-i8.npy"), np.array([3, 7], dtype=np.int64))
    np.save(os.path.join(OUT, "labels-u1.npy"), np.array([3, 7], dtype=np.uint8))
    np.save(os.path.join(OUT, "labels-3.npy"), np.array([1, 2, 3], dtype=np.int32))
    np.save(os.path.join(OUT, "strings.npy"), np.array(["a", "b"]))
    np.savez(os.path.join(OUT, "stored.npz"), pixel_values=x, labels=np.array([3, 7], dtype=np.int64))
    np.savez_compressed(os.path.join(OUT, "deflated.npz"), x)
    np.savez(os.path.join(OUT, "two-arrays.npz"), a=x, b=x)
    # A .npy written in format version 2.0 (4-byte header length).
    buf = io.BytesIO()
    np.lib.format.write_array(buf, x, version=(2, 0))
    open(os.path.join(OUT, "v2.npy"), "wb").write(buf.getvalue())
    # A zip whose member is stored with bzip2: readable zip, unsupported method.
    with zipfile.ZipFile(os.path.join(OUT, "bzip2.npz"), "w", compression=zipfile.ZIP_BZIP2) as z:
        b = io.BytesIO()
        np.save(b, x)
        z.writestr("x.npy", b.getvalue())


if __name__ == "__main__":
    main()
