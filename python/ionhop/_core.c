/* ionhop._core: the CPython binding of the library predictor (include/ionhop.h). Structures cross
 * as (lattice 3×3, fractional positions N×3, atomic numbers N) sequences; the Python layer
 * (ionhop/__init__.py) converts pymatgen, ASE and numpy objects. Predictions run with the GIL
 * released; errors become ValueError (bad input) or OSError (files), with the library's message. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "ionhop.h"

#include <math.h>
#include <string.h>

static PyObject *raise_error(int file_error) {
    PyErr_SetString(file_error ? PyExc_OSError : PyExc_ValueError, ih_last_error());
    return NULL;
}

/* Library warnings arrive in the thread that made them, possibly without the GIL: they are kept
 * here and issued as Python UserWarnings (so `warnings` filters apply) once the call is back. */
#define MAX_PENDING_WARNINGS 64
static _Thread_local char *pending_warnings[MAX_PENDING_WARNINGS];
static _Thread_local int n_pending_warnings;

static void keep_warning(const char *message, void *user) {
    (void)user;
    if (n_pending_warnings < MAX_PENDING_WARNINGS) {
        char *copy = strdup(message);
        if (copy) pending_warnings[n_pending_warnings++] = copy;
    }
}

/* Issue the pending warnings; -1 with an exception set when a filter turned one into an error. */
static int issue_warnings(void) {
    int rc = 0;
    for (int k = 0; k < n_pending_warnings; k++) {
        if (rc == 0 && PyErr_WarnEx(PyExc_UserWarning, pending_warnings[k], 1) < 0) rc = -1;
        free(pending_warnings[k]);
    }
    n_pending_warnings = 0;
    return rc;
}

static int looks_like_file_error(const char *msg) {
    return strstr(msg, "cannot open") || strstr(msg, "cannot write") || strstr(msg, "read error");
}

/* (lattice, frac, numbers) sequences into an ih_structure; 0 ok, -1 with a Python error set */
static int structure_from(PyObject *lattice, PyObject *frac, PyObject *numbers, ih_structure *s) {
    memset(s, 0, sizeof *s);
    PyObject *L = PySequence_Fast(lattice, "lattice must be a 3x3 sequence");
    if (!L) return -1;
    if (PySequence_Fast_GET_SIZE(L) != 3) {
        Py_DECREF(L);
        PyErr_SetString(PyExc_ValueError, "lattice must be 3x3");
        return -1;
    }
    double lat[3][3];
    for (int r = 0; r < 3; r++) {
        PyObject *row = PySequence_Fast(PySequence_Fast_GET_ITEM(L, r), "lattice rows must be sequences");
        if (!row || PySequence_Fast_GET_SIZE(row) != 3) {
            Py_XDECREF(row);
            Py_DECREF(L);
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "lattice must be 3x3");
            return -1;
        }
        for (int c = 0; c < 3; c++) lat[r][c] = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(row, c));
        Py_DECREF(row);
    }
    Py_DECREF(L);
    if (PyErr_Occurred()) return -1;
    PyObject *F = PySequence_Fast(frac, "positions must be an Nx3 sequence");
    PyObject *Z = F ? PySequence_Fast(numbers, "numbers must be a sequence") : NULL;
    if (!F || !Z) {
        Py_XDECREF(F);
        return -1;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(F);
    if (n != PySequence_Fast_GET_SIZE(Z) || n < 1 || n > 2000000) {
        Py_DECREF(F), Py_DECREF(Z);
        PyErr_Format(PyExc_ValueError, "positions (%zd) and numbers (%zd) must have the same, non-zero length", n,
                     PySequence_Fast_GET_SIZE(Z));
        return -1;
    }
    if (ih_structure_init(s, (int)n) != 0) {
        Py_DECREF(F), Py_DECREF(Z);
        PyErr_NoMemory();
        return -1;
    }
    memcpy(s->lattice, lat, sizeof lat);
    for (Py_ssize_t i = 0; i < n && !PyErr_Occurred(); i++) {
        PyObject *row = PySequence_Fast(PySequence_Fast_GET_ITEM(F, i), "positions must be an Nx3 sequence");
        if (!row) break;
        if (PySequence_Fast_GET_SIZE(row) != 3) PyErr_SetString(PyExc_ValueError, "positions must be Nx3");
        for (int c = 0; c < 3 && !PyErr_Occurred(); c++) s->frac[3 * i + c] = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(row, c));
        Py_DECREF(row);
        long z = PyLong_AsLong(PySequence_Fast_GET_ITEM(Z, i));
        s->z[i] = (int)z;
    }
    Py_DECREF(F), Py_DECREF(Z);
    if (PyErr_Occurred()) {
        ih_structure_free(s);
        return -1;
    }
    if (ih_structure_validate(s, "structure", IH_MIN_SEPARATION, 0) != 0) {
        ih_structure_free(s);
        raise_error(0);
        return -1;
    }
    return 0;
}

static PyObject *list3(const double *v) { return Py_BuildValue("[ddd]", v[0], v[1], v[2]); }

static PyObject *structure_tuple(const ih_structure *s) {
    PyObject *lat = PyList_New(3), *frac = PyList_New(s->n_atoms), *z = PyList_New(s->n_atoms);
    for (int r = 0; r < 3; r++) PyList_SET_ITEM(lat, r, list3(s->lattice[r]));
    for (int i = 0; i < s->n_atoms; i++) {
        PyList_SET_ITEM(frac, i, list3(s->frac + 3 * i));
        PyList_SET_ITEM(z, i, PyLong_FromLong(s->z[i]));
    }
    return Py_BuildValue("(NNNs)", lat, frac, z, s->jid);
}

/* read(path, block=None) -> [(lattice, frac, numbers, jid), ...]; block: a CIF's data block */
static PyObject *py_read(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static char *names[] = {"path", "disorder", "block", NULL};
    const char *path, *block = NULL;
    int disorder = IH_DISORDER_SITES;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|iz", names, &path, &disorder, &block)) return NULL;
    if (disorder < IH_DISORDER_SITES || disorder > IH_DISORDER_REFUSE) {
        PyErr_SetString(PyExc_ValueError, "unknown disorder policy");
        return NULL;
    }
    ih_read_opts o = {.disorder = (ih_disorder)disorder, .block = block};
    ih_structure_set set;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = ih_read_structures_opts(path, IH_FMT_UNKNOWN, &o, &set);
    Py_END_ALLOW_THREADS
    if (issue_warnings() != 0) {
        if (rc == 0) ih_structure_set_free(&set);
        return NULL;
    }
    if (rc != 0) return raise_error(looks_like_file_error(ih_last_error()));
    PyObject *out = PyList_New(set.n);
    for (int k = 0; k < set.n; k++) PyList_SET_ITEM(out, k, structure_tuple(&set.items[k]));
    ih_structure_set_free(&set);
    return out;
}

/* ---- the predictor ---- */

typedef struct {
    PyObject_HEAD ih_predictor *p;
} Predictor;

static void Predictor_dealloc(Predictor *self) {
    ih_predictor_free(self->p);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Predictor_init(Predictor *self, PyObject *args, PyObject *kw) {
    static char *names[] = {"path", NULL};
    const char *path = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|z", names, &path)) return -1;
    ih_predictor *p;
    Py_BEGIN_ALLOW_THREADS
    p = ih_predictor_load(path);
    Py_END_ALLOW_THREADS
    if (issue_warnings() != 0) {
        ih_predictor_free(p);
        return -1;
    }
    if (!p) {
        raise_error(looks_like_file_error(ih_last_error()));
        return -1;
    }
    ih_predictor_free(self->p);
    self->p = p;
    return 0;
}

static PyObject *hop_dict(const ih_hop_result *r, const double *members, int M, const char *outside) {
    PyObject *mem = PyList_New(M);
    for (int k = 0; k < M; k++) PyList_SET_ITEM(mem, k, PyFloat_FromDouble(members[k]));
    return Py_BuildValue("{s:d,s:d,s:N,s:d,s:d,s:i,s:i,s:i,s:N,s:N,s:s,s:d}", "em", r->em, "spread", r->spread,
                         "members", mem, "length", r->length, "closest_approach", r->closest_approach, "nearest_atom",
                         r->nearest_atom, "ion", r->ion, "ion_z", r->ion_z, "from", list3(r->from), "to", list3(r->to),
                         "outside_domain", outside, "rep_distance", r->rep_distance);
}

static PyObject *Predictor_endpoints(Predictor *self, PyObject *args) {
    PyObject *l1, *f1, *z1, *l2, *f2, *z2;
    if (!PyArg_ParseTuple(args, "OOOOOO", &l1, &f1, &z1, &l2, &f2, &z2)) return NULL;
    ih_structure a, b;
    if (structure_from(l1, f1, z1, &a) != 0) return NULL;
    if (structure_from(l2, f2, z2, &b) != 0) {
        ih_structure_free(&a);
        return NULL;
    }
    int M = ih_predictor_n_members(self->p), rc;
    double *members = malloc((size_t)M * sizeof *members);
    ih_hop_result r;
    Py_BEGIN_ALLOW_THREADS
    rc = members ? ih_predict_endpoints(self->p, &a, &b, "initial", "final", &r, members) : -1;
    Py_END_ALLOW_THREADS
    char why[512] = "";
    if (rc == 0) ih_predictor_domain_check(self->p, &a, &r, why, sizeof why);
    ih_structure_free(&a);
    ih_structure_free(&b);
    PyObject *out = issue_warnings() != 0 ? NULL
                    : rc == 0            ? hop_dict(&r, members, M, why)
                    : members            ? raise_error(0)
                                         : PyErr_NoMemory();
    free(members);
    return out;
}

static PyObject *Predictor_move(Predictor *self, PyObject *args) {
    PyObject *l, *f, *z;
    int ion;
    double to[3];
    if (!PyArg_ParseTuple(args, "OOOi(ddd)", &l, &f, &z, &ion, &to[0], &to[1], &to[2])) return NULL;
    ih_structure s;
    if (structure_from(l, f, z, &s) != 0) return NULL;
    int M = ih_predictor_n_members(self->p), rc;
    double *members = malloc((size_t)M * sizeof *members);
    ih_hop_result r;
    Py_BEGIN_ALLOW_THREADS
    rc = members ? ih_predict_move(self->p, &s, "structure", ion, to, &r, members) : -1;
    Py_END_ALLOW_THREADS
    char why[512] = "";
    if (rc == 0) ih_predictor_domain_check(self->p, &s, &r, why, sizeof why);
    ih_structure_free(&s);
    PyObject *out = issue_warnings() != 0 ? NULL
                    : rc == 0            ? hop_dict(&r, members, M, why)
                    : members            ? raise_error(0)
                                         : PyErr_NoMemory();
    free(members);
    return out;
}

static PyObject *barrier(double v) {
    if (isnan(v)) Py_RETURN_NONE;
    return PyFloat_FromDouble(v);
}

static PyObject *Predictor_hops(Predictor *self, PyObject *args) {
    PyObject *l, *f, *z;
    int element;
    double max_hop, symprec;
    if (!PyArg_ParseTuple(args, "OOOidd", &l, &f, &z, &element, &max_hop, &symprec)) return NULL;
    ih_structure s;
    if (structure_from(l, f, z, &s) != 0) return NULL;
    ih_element_hops h;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = ih_predict_element_hops(self->p, &s, "structure", element, max_hop, symprec, &h);
    Py_END_ALLOW_THREADS
    if (issue_warnings() != 0) {
        if (rc == 0) ih_element_hops_free(&h);
        ih_structure_free(&s);
        return NULL;
    }
    if (rc != 0) {
        ih_structure_free(&s);
        return raise_error(0);
    }
    PyObject *classes = PyList_New(h.n), *hops = PyList_New(h.net.n_hops);
    for (int k = 0; k < h.n; k++) {
        const ih_hop *x = &h.hops[k];
        PyList_SET_ITEM(classes, k,
                        Py_BuildValue("{s:i,s:i,s:i,s:(iii),s:d,s:i,s:d,s:d,s:d,s:d}", "class", k, "from", x->from,
                                      "to", x->to, "image", x->image[0], x->image[1], x->image[2], "length", x->length,
                                      "count", x->multiplicity, "em", h.result[k].em, "spread", h.result[k].spread,
                                      "closest_approach", h.result[k].closest_approach, "rep_distance",
                                      h.result[k].rep_distance));
        /* with a calibrated model: the 90 % interval, P(good) and any reason it lies outside the domain */
        PyObject *cls = PyList_GET_ITEM(classes, k);
        double low, high;
        if (cls && ih_predictor_interval(self->p, h.result[k].ion_z, h.result[k].em, h.result[k].spread, 0.9, &low, &high) == 0) {
            PyObject *iv = Py_BuildValue("(dd)", low > 0 ? low : 0.0, high),
                     *pg = PyFloat_FromDouble(ih_predictor_p_good(self->p, h.result[k].ion_z, h.result[k].em, h.result[k].spread));
            PyDict_SetItemString(cls, "interval", iv);
            PyDict_SetItemString(cls, "p_good", pg);
            Py_XDECREF(iv), Py_XDECREF(pg);
        }
        ih_hop_result at = h.result[k];
        at.ion = x->from;
        char why[512];
        if (cls && ih_predictor_domain_check(self->p, &s, &at, why, sizeof why) > 0) {
            PyObject *w = PyUnicode_FromString(why);
            PyDict_SetItemString(cls, "outside_domain", w);
            Py_XDECREF(w);
        }
    }
    for (int k = 0; k < h.net.n_hops; k++) {
        const ih_hop *x = &h.net.hops[k];
        PyList_SET_ITEM(hops, k,
                        Py_BuildValue("{s:i,s:i,s:(iii),s:d,s:i,s:d,s:d}", "from", x->from, "to", x->to, "image",
                                      x->image[0], x->image[1], x->image[2], "length", x->length, "class", x->klass,
                                      "em", h.result[x->klass].em, "spread", h.result[x->klass].spread));
    }
    PyObject *dirs = PyDict_New();
    static const char *const key[3] = {"1d", "2d", "3d"};
    for (int d = 0; d < 3; d++) {
        PyObject *v;
        if (isnan(h.percolation.barrier[d])) {
            v = Py_None;
            Py_INCREF(v);
        } else {
            v = PyList_New(d + 1);
            for (int r = 0; r <= d; r++) {
                const int *q = h.percolation.direction[d][r];
                PyList_SET_ITEM(v, r, Py_BuildValue("(iii)", q[0], q[1], q[2]));
            }
        }
        PyDict_SetItemString(dirs, key[d], v);
        Py_DECREF(v);
    }
    PyObject *out = Py_BuildValue(
        "{s:i,s:s,s:i,s:N,s:N,s:{s:N,s:N,s:N},s:N}", "spacegroup", h.info.spacegroup, "spacegroup_symbol",
        h.info.spacegroup ? h.info.spacegroup_symbol : "", "n_sites", h.info.n_sites, "classes", classes, "hops", hops,
        "percolation", "1d", barrier(h.percolation.barrier[0]), "2d", barrier(h.percolation.barrier[1]), "3d",
        barrier(h.percolation.barrier[2]), "percolation_directions", dirs);
    ih_element_hops_free(&h);
    ih_structure_free(&s);
    return out;
}

static PyObject *Predictor_interval(Predictor *self, PyObject *args) {
    double em, spread, level, low, high;
    int ion_z;
    if (!PyArg_ParseTuple(args, "iddd", &ion_z, &em, &spread, &level)) return NULL;
    if (ih_predictor_interval(self->p, ion_z, em, spread, level, &low, &high) != 0) return raise_error(0);
    return Py_BuildValue("(dd)", low > 0 ? low : 0.0, high);
}

static PyObject *Predictor_p_good(Predictor *self, PyObject *args) {
    double em, spread;
    int ion_z;
    if (!PyArg_ParseTuple(args, "idd", &ion_z, &em, &spread)) return NULL;
    return PyFloat_FromDouble(ih_predictor_p_good(self->p, ion_z, em, spread));
}

static PyObject *Predictor_get_calibrated(Predictor *self, void *c) {
    (void)c;
    return PyBool_FromLong(ih_predictor_has_calibration(self->p));
}

static PyObject *Predictor_get_n_members(Predictor *self, void *c) {
    (void)c;
    return PyLong_FromLong(ih_predictor_n_members(self->p));
}
static PyObject *Predictor_get_path(Predictor *self, void *c) {
    (void)c;
    return PyUnicode_FromString(ih_predictor_path(self->p));
}
static PyObject *Predictor_get_reads_hops(Predictor *self, void *c) {
    (void)c;
    return PyBool_FromLong(ih_predictor_reads_hops(self->p));
}

static PyMethodDef Predictor_methods[] = {
    {"predict_endpoints", (PyCFunction)Predictor_endpoints, METH_VARARGS,
     "predict_endpoints(lat1, frac1, z1, lat2, frac2, z2) -> dict: the hop between two end points"},
    {"predict_move", (PyCFunction)Predictor_move, METH_VARARGS,
     "predict_move(lat, frac, z, ion, (x, y, z)) -> dict: atom ion (0-based) moving to a fractional point"},
    {"interval", (PyCFunction)Predictor_interval, METH_VARARGS,
     "interval(ion_z, em, spread, level) -> (low, high): the calibrated central interval (mobile ion's atomic number, 0: "
     "any), low clipped at 0"},
    {"p_good", (PyCFunction)Predictor_p_good, METH_VARARGS, "p_good(ion_z, em, spread) -> P(Em < 0.65 eV), NaN if uncalibrated"},
    {"hops", (PyCFunction)Predictor_hops, METH_VARARGS,
     "hops(lat, frac, z, element_z, max_hop, symprec) -> dict: the hop network, class barriers, percolation"},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef Predictor_getset[] = {{"n_members", (getter)Predictor_get_n_members, NULL, "ensemble members", NULL},
                                         {"path", (getter)Predictor_get_path, NULL, "model file", NULL},
                                         {"calibrated", (getter)Predictor_get_calibrated, NULL,
                                          "the model carries an interval calibration", NULL},
                                         {"reads_hops", (getter)Predictor_get_reads_hops, NULL,
                                          "a migration-barrier model", NULL},
                                         {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject PredictorType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "ionhop._core.Predictor",
    .tp_basicsize = sizeof(Predictor),
    .tp_dealloc = (destructor)Predictor_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Predictor(path=None): a model file loaded once (None: the bundled default)",
    .tp_methods = Predictor_methods,
    .tp_getset = Predictor_getset,
    .tp_init = (initproc)Predictor_init,
    .tp_new = PyType_GenericNew,
};

static PyObject *py_default_model(PyObject *self, PyObject *args) {
    (void)self, (void)args;
    return PyUnicode_FromString(ih_default_model_path());
}

static PyMethodDef module_methods[] = {
    {"read", (PyCFunction)(void (*)(void))py_read, METH_VARARGS | METH_KEYWORDS,
     "read(path, disorder=0, block=None) -> [(lattice, frac, numbers, jid), ...]; block: a CIF's data block"},
    {"default_model_path", py_default_model, METH_NOARGS, "the model used when none is named"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "ionhop._core", "ionhop's C library", -1, module_methods,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__core(void) {
    if (PyType_Ready(&PredictorType) < 0) return NULL;
    ih_set_warning_handler(keep_warning, NULL);
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&PredictorType);
    if (PyModule_AddObject(m, "Predictor", (PyObject *)&PredictorType) < 0) {
        Py_DECREF(&PredictorType);
        Py_DECREF(m);
        return NULL;
    }
    PyModule_AddStringConstant(m, "version", IH_VERSION);
    PyModule_AddObject(m, "GOOD_CONDUCTOR_EV", PyFloat_FromDouble(IH_GOOD_CONDUCTOR_EV));
    PyModule_AddObject(m, "DEFAULT_SYMPREC", PyFloat_FromDouble(IH_DEFAULT_SYMPREC));
    return m;
}
