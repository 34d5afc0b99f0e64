/* Compiled fast path for the X-Gnarly ChaCha variant (see ttsign/signing/chacha.py for the spec).
 * keystream(words: bytes of 12 LE uint32, length: int) -> bytes. Pure computation, no I/O. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

static const uint32_t SIGMA[4] = {0x475602B6u, 0x23D22697u, 0xE6460233u, 0x56870716u};

#define ROTL(v, n) (((v) << (n)) | ((v) >> (32 - (n))))
#define QR(x, a, b, c, d)                              \
    do {                                               \
        x[a] += x[b]; x[d] ^= x[a]; x[d] = ROTL(x[d], 16); \
        x[c] += x[d]; x[b] ^= x[c]; x[b] = ROTL(x[b], 12); \
        x[a] += x[b]; x[d] ^= x[a]; x[d] = ROTL(x[d], 8);  \
        x[c] += x[d]; x[b] ^= x[c]; x[b] = ROTL(x[b], 7);  \
    } while (0)

static PyObject *keystream(PyObject *self, PyObject *args) {
    Py_buffer key;
    Py_ssize_t length;
    if (!PyArg_ParseTuple(args, "y*n", &key, &length)) return NULL;
    if (key.len != 48 || length < 0) {
        PyBuffer_Release(&key);
        PyErr_SetString(PyExc_ValueError, "keystream needs a 48-byte key and a non-negative length");
        return NULL;
    }
    uint32_t state[16], x[16];
    const unsigned char *k = (const unsigned char *)key.buf;
    unsigned int nibbles = 0;
    for (int i = 0; i < 4; i++) state[i] = SIGMA[i];
    for (int i = 0; i < 12; i++) {
        state[4 + i] = (uint32_t)k[4 * i] | (uint32_t)k[4 * i + 1] << 8 | (uint32_t)k[4 * i + 2] << 16 |
                       (uint32_t)k[4 * i + 3] << 24;
        nibbles += state[4 + i] & 15u;
    }
    PyBuffer_Release(&key);
    int rounds = (int)(nibbles % 16u) + 5;
    PyObject *out = PyBytes_FromStringAndSize(NULL, length);
    if (out == NULL) return NULL;
    unsigned char *dst = (unsigned char *)PyBytes_AS_STRING(out);
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
        unsigned char block[64];
        for (int i = 0; i < 16; i++) {
            uint32_t v = x[i] + state[i];
            block[4 * i] = (unsigned char)v;
            block[4 * i + 1] = (unsigned char)(v >> 8);
            block[4 * i + 2] = (unsigned char)(v >> 16);
            block[4 * i + 3] = (unsigned char)(v >> 24);
        }
        Py_ssize_t take = length - offset < 64 ? length - offset : 64;
        memcpy(dst + offset, block, (size_t)take);
        state[12] += 1u;
    }
    return out;
}

static PyMethodDef methods[] = {
    {"keystream", keystream, METH_VARARGS, "X-Gnarly ChaCha keystream for a 48-byte key."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_chacha", NULL, -1, methods};

PyMODINIT_FUNC PyInit__chacha(void) { return PyModule_Create(&module); }
