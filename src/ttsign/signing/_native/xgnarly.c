/* Compiled fast path for X-Gnarly (signatures.md §2; ttsign/signing/xgnarly.py and chacha.py are the
 * reference, and tests check this against them). Pure computation, no I/O.
 *
 *   keystream(key: 48 bytes, length[, rounds]) -> bytes
 *       the ChaCha variant's keystream for a key (12 LE uint32 words).
 *   token(fields: dict, order: sequence of int, key: 48 bytes, short_int_limit, alphabet: 64 bytes,
 *         magic[, widths: 256 bytes, rounds]) -> str
 *       the whole token: TLV payload in `order`, encrypted, key spliced in at its content-derived
 *       position behind the magic byte, base64 in `alphabet` with '=' padding.
 *   A signer environment (signing/environment.py) may fix the integer widths per field (`widths[key]` is
 *   2 or 4; 0 keeps the minimal-width rule) and the round count (`rounds` > 0; 0 lets the key decide). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define KEY_BYTES 48

static const uint32_t SIGMA[4] = {0x475602B6u, 0x23D22697u, 0xE6460233u, 0x56870716u};

#define ROTL(v, n) (((v) << (n)) | ((v) >> (32 - (n))))
#define QR(x, a, b, c, d)                              \
    do {                                               \
        x[a] += x[b]; x[d] ^= x[a]; x[d] = ROTL(x[d], 16); \
        x[c] += x[d]; x[b] ^= x[c]; x[b] = ROTL(x[b], 12); \
        x[a] += x[b]; x[d] ^= x[a]; x[d] = ROTL(x[d], 8);  \
        x[c] += x[d]; x[b] ^= x[c]; x[b] = ROTL(x[b], 7);  \
    } while (0)

/* XOR `length` bytes of keystream into `buf` (all zeros in: the keystream itself out). */
static void chacha_xor(const unsigned char *k, unsigned char *buf, Py_ssize_t length, int fixed_rounds) {
    uint32_t state[16], x[16];
    unsigned int nibbles = 0;
    for (int i = 0; i < 4; i++) state[i] = SIGMA[i];
    for (int i = 0; i < 12; i++) {
        state[4 + i] = (uint32_t)k[4 * i] | (uint32_t)k[4 * i + 1] << 8 | (uint32_t)k[4 * i + 2] << 16 |
                       (uint32_t)k[4 * i + 3] << 24;
        nibbles += state[4 + i] & 15u;
    }
    /* The key decides its own round count, unless the environment fixes it. */
    int rounds = fixed_rounds > 0 ? fixed_rounds : (int)(nibbles % 16u) + 5;
    for (Py_ssize_t offset = 0; offset < length; offset += 64) {
        memcpy(x, state, sizeof x);
        for (int n = 0; n < rounds; n++) {
            if ((n & 1) == 0) {
                QR(x, 0, 4, 8, 12); QR(x, 1, 5, 9, 13); QR(x, 2, 6, 10, 14); QR(x, 3, 7, 11, 15);
            } else {
                /* The SDK's "diagonal" round: the last two take words 12/13 and 13/14. */
                QR(x, 0, 5, 10, 15); QR(x, 1, 6, 11, 12); QR(x, 2, 7, 12, 13); QR(x, 3, 4, 13, 14);
            }
        }
        Py_ssize_t take = length - offset < 64 ? length - offset : 64;
        for (Py_ssize_t i = 0; i < take; i++) {
            uint32_t v = x[i / 4] + state[i / 4];
            buf[offset + i] ^= (unsigned char)(v >> (8 * (i % 4)));
        }
        state[12] += 1u; /* block counter, modulo 2^32 */
    }
}

static PyObject *keystream(PyObject *self, PyObject *args) {
    Py_buffer key;
    Py_ssize_t length;
    int rounds = 0;
    if (!PyArg_ParseTuple(args, "y*n|i", &key, &length, &rounds)) return NULL;
    if (key.len != KEY_BYTES || length < 0 || rounds < 0) {
        PyBuffer_Release(&key);
        PyErr_SetString(PyExc_ValueError, "keystream needs a 48-byte key and a non-negative length");
        return NULL;
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, length);
    if (out != NULL) {
        unsigned char *dst = (unsigned char *)PyBytes_AS_STRING(out);
        memset(dst, 0, (size_t)length);
        chacha_xor((const unsigned char *)key.buf, dst, length, rounds);
    }
    PyBuffer_Release(&key);
    return out;
}

/* A growable byte buffer for the payload (a few hundred bytes in practice). */
typedef struct {
    unsigned char *data;
    Py_ssize_t len, cap;
} Buffer;

static int buffer_put(Buffer *b, const void *src, Py_ssize_t n) {
    if (b->len + n > b->cap) {
        Py_ssize_t cap = (b->len + n) * 2;
        unsigned char *grown = PyMem_Realloc(b->data, (size_t)cap);
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, src, (size_t)n);
    b->len += n;
    return 0;
}

/* One field as TLV: [key][length BE16][value]. Returns 1 written, 0 dropped, -1 error. */
static int put_field(Buffer *b, long key, PyObject *value, unsigned long long short_limit, unsigned char width) {
    unsigned char head[7];
    head[0] = (unsigned char)key;
    if (PyUnicode_Check(value)) {
        Py_ssize_t n;
        const char *text = PyUnicode_AsUTF8AndSize(value, &n);
        if (text == NULL) return -1;
        if (n > 0xFFFF) {
            PyErr_Format(PyExc_ValueError, "X-Gnarly field %ld is longer than 65535 bytes", key);
            return -1;
        }
        head[1] = (unsigned char)(n >> 8);
        head[2] = (unsigned char)n;
        return buffer_put(b, head, 3) < 0 || buffer_put(b, text, n) < 0 ? -1 : 1;
    }
    if (!PyLong_Check(value)) {
        PyErr_Format(PyExc_TypeError, "X-Gnarly field %ld must be int or str", key);
        return -1;
    }
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (v == -1 && PyErr_Occurred()) return -1;
    /* As the SDK: below the limit 2 bytes, up to 2^32 4 bytes; negative or larger values are dropped. */
    if (overflow != 0 || v < 0 || (unsigned long long)v >= (1ULL << 32)) return 0;
    /* A fixed width keeps the low bytes, as the peer that fixes widths writes them. */
    if (width == 2 || (width == 0 && (unsigned long long)v < short_limit)) {
        head[1] = 0, head[2] = 2, head[3] = (unsigned char)(v >> 8), head[4] = (unsigned char)v;
        return buffer_put(b, head, 5) < 0 ? -1 : 1;
    }
    head[1] = 0, head[2] = 4;
    head[3] = (unsigned char)(v >> 24), head[4] = (unsigned char)(v >> 16);
    head[5] = (unsigned char)(v >> 8), head[6] = (unsigned char)v;
    return buffer_put(b, head, 7) < 0 ? -1 : 1;
}

/* The TLV payload: [count] then the fields of `order`, every field of `fields` named exactly once. */
static int serialize(Buffer *b, PyObject *fields, PyObject *order, unsigned long long short_limit,
                     const unsigned char *widths) {
    PyObject *seq = PySequence_Fast(order, "the field order must be a sequence");
    if (seq == NULL) return -1;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    unsigned char seen[256] = {0};
    int written = 0, ok = count == PyDict_Size(fields);
    unsigned char zero = 0;
    if (ok && buffer_put(b, &zero, 1) < 0) goto fail; /* the count, filled in below */
    for (Py_ssize_t i = 0; ok && i < count; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        long key = PyLong_Check(item) ? PyLong_AsLong(item) : -1;
        if (key == -1 && PyErr_Occurred()) goto fail;
        PyObject *value = key >= 0 && key <= 255 && !seen[key] ? PyDict_GetItemWithError(fields, item) : NULL;
        if (value == NULL) {
            if (PyErr_Occurred()) goto fail;
            ok = 0;
            break;
        }
        seen[key] = 1;
        int put = put_field(b, key, value, short_limit, widths == NULL ? 0 : widths[key]);
        if (put < 0) goto fail;
        written += put;
    }
    Py_DECREF(seq);
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "field order must name every field exactly once");
        return -1;
    }
    if (written > 255) {
        PyErr_SetString(PyExc_ValueError, "an X-Gnarly payload holds at most 255 fields");
        return -1;
    }
    b->data[0] = (unsigned char)written;
    return 0;
fail:
    Py_DECREF(seq);
    return -1;
}

static PyObject *base64_text(const unsigned char *raw, Py_ssize_t n, const unsigned char *alphabet) {
    Py_ssize_t out_len = (n + 2) / 3 * 4;
    PyObject *out = PyUnicode_New(out_len, 127);
    if (out == NULL) return NULL;
    Py_UCS1 *dst = PyUnicode_1BYTE_DATA(out);
    Py_ssize_t i = 0, j = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];
        dst[j++] = alphabet[v >> 18], dst[j++] = alphabet[(v >> 12) & 63];
        dst[j++] = alphabet[(v >> 6) & 63], dst[j++] = alphabet[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)raw[i] << 16 | (i + 1 < n ? (uint32_t)raw[i + 1] << 8 : 0);
        dst[j++] = alphabet[v >> 18], dst[j++] = alphabet[(v >> 12) & 63];
        dst[j++] = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
        dst[j++] = '=';
    }
    return out;
}

static PyObject *token(PyObject *self, PyObject *args) {
    PyObject *fields, *order, *result = NULL;
    Py_buffer key, alphabet;
    Py_buffer widths = {0};
    unsigned long long short_limit;
    int magic, rounds = 0;
    if (!PyArg_ParseTuple(args, "O!Oy*Ky*i|y*i", &PyDict_Type, &fields, &order, &key, &short_limit, &alphabet, &magic,
                          &widths, &rounds))
        return NULL;
    Buffer plain = {NULL, 0, 0};
    unsigned char *raw = NULL;
    if (key.len != KEY_BYTES || alphabet.len != 64 || (widths.buf != NULL && widths.len != 0 && widths.len != 256) ||
        rounds < 0) {
        PyErr_SetString(PyExc_ValueError,
                        "token needs a 48-byte key, a 64-symbol alphabet, 0 or 256 widths and rounds >= 0");
        goto done;
    }
    const unsigned char *width_table = widths.buf != NULL && widths.len == 256 ? widths.buf : NULL;
    if (serialize(&plain, fields, order, short_limit, width_table) < 0) goto done;
    const unsigned char *k = (const unsigned char *)key.buf;
    chacha_xor(k, plain.data, plain.len, rounds); /* now the ciphertext */
    /* The key goes in at (sum of key bytes + sum of cipher bytes) mod (cipher length + 1). */
    unsigned long long sum = 0;
    for (Py_ssize_t i = 0; i < KEY_BYTES; i++) sum += k[i];
    for (Py_ssize_t i = 0; i < plain.len; i++) sum += plain.data[i];
    Py_ssize_t position = (Py_ssize_t)(sum % (unsigned long long)(plain.len + 1));
    Py_ssize_t raw_len = 1 + plain.len + KEY_BYTES;
    raw = PyMem_Malloc((size_t)raw_len);
    if (raw == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    raw[0] = (unsigned char)magic;
    memcpy(raw + 1, plain.data, (size_t)position);
    memcpy(raw + 1 + position, k, KEY_BYTES);
    memcpy(raw + 1 + position + KEY_BYTES, plain.data + position, (size_t)(plain.len - position));
    result = base64_text(raw, raw_len, (const unsigned char *)alphabet.buf);
done:
    PyMem_Free(raw);
    PyMem_Free(plain.data);
    PyBuffer_Release(&key);
    PyBuffer_Release(&alphabet);
    if (widths.obj != NULL) PyBuffer_Release(&widths);
    return result;
}

static PyMethodDef methods[] = {
    {"keystream", keystream, METH_VARARGS, "X-Gnarly ChaCha keystream for a 48-byte key."},
    {"token", token, METH_VARARGS, "A whole X-Gnarly token from its fields, order and key."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_xgnarly", NULL, -1, methods};

PyMODINIT_FUNC PyInit__xgnarly(void) { return PyModule_Create(&module); }
