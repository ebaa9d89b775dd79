"""NumPy reference of Engram's n-gram hashing, written from DESIGN.md §4.

Compressed ids in, table rows out (offset included), positions before the
sequence start read as pad_id. Arithmetic is NumPy int64 as in the paper's
engram_demo_v1.py: products wrap, xor on the bit patterns, `%` is floor
modulo (non-negative for a positive modulus). Dev-only: CI never runs it.
"""
import numpy as np

MASK64 = (1 << 64) - 1


def as_int64(u):
    """A 64-bit pattern (Python int, unsigned) as a NumPy int64."""
    u &= MASK64
    return np.int64(u - (1 << 64) if u >= (1 << 63) else u)


def is_prime(n):
    if n < 2:
        return False
    small = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)
    for p in small:
        if n % p == 0:
            return n == p
    d, r = n - 1, 0
    while d % 2 == 0:
        d //= 2
        r += 1
    for a in small:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def find_primes(rows_per_head, n_layers, max_ngram, heads):
    """Per layer, per order 2..max_ngram, per head: the next unused prime
    above the previous one, starting above rows_per_head - 1. Flat list."""
    seen = set()
    out = []
    for _ in range(n_layers):
        for _n in range(2, max_ngram + 1):
            start = rows_per_head - 1
            for _h in range(heads):
                p = start + 1
                while not is_prime(p) or p in seen:
                    p += 1
                seen.add(p)
                out.append(p)
                start = p
    return out


def offsets_of(primes_of_layer):
    out, s = [], 0
    for p in primes_of_layer:
        out.append(s)
        s += p
    return out


def rows(compressed, multipliers, primes, offsets, pad_id, max_ngram, heads):
    """compressed: 1-D ids; multipliers: max_ngram 64-bit values of one layer;
    primes/offsets: (max_ngram-1)*heads values of that layer.
    Returns int64 [T, (max_ngram-1)*heads], order-2 heads first."""
    c = np.asarray(compressed, dtype=np.int64)
    T = c.shape[0]
    m = [as_int64(x) for x in multipliers]
    out = np.empty((T, (max_ngram - 1) * heads), dtype=np.int64)
    with np.errstate(over="ignore"):
        shifted = [np.concatenate([np.full(k, pad_id, dtype=np.int64), c])[:T] for k in range(max_ngram)]
        mix = shifted[0] * m[0]
        for n in range(2, max_ngram + 1):
            mix = np.bitwise_xor(mix, shifted[n - 1] * m[n - 1])
            for j in range(heads):
                h = (n - 2) * heads + j
                out[:, h] = offsets[h] + (mix % np.int64(primes[h]))
    return out


class SplitMix64:
    """The PRNG shared with tests/engram/test_engram_hash.cpp."""

    def __init__(self, seed):
        self.s = seed & MASK64

    def next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & MASK64
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)
