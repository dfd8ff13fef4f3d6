// route_table.c — the compiled route matcher: a trie over template segments, searched depth-first
// with literal > "*" > "**" priority and backtracking; see route_table.h for the semantics.
//
// Written by hand: h2o's pathconf matches prefixes only, and no C library implements HTTP-rule
// templates. The trie is a tree, and every edge but "**" consumes exactly one path segment, so a
// node is visited at most once per request: the worst case is linear in the size of the table,
// however the routes overlap. Per-request state (the segment offsets) lives on the stack; the
// only output is the caller's route_match_t.
#include "transcode/route_table.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rt_route {
    char *method;
    size_t method_len;
    int any_method; /* the custom kind "*" */
    path_template_t *tmpl;
    void *target;
    size_t index; /* declaration order, for messages */
} rt_route_t;

struct rt_node;

typedef struct rt_edge {
    const char *lit; /* normalised literal, owned by the route's template */
    size_t len;
    struct rt_node *child;
} rt_edge_t;

typedef struct rt_node {
    rt_edge_t *lits; /* sorted by rt_lit_order once compiled */
    size_t nlits, lits_cap;
    struct rt_node *star;
    struct rt_node *dstar; /* always a leaf: "**" is the last segment */
    rt_route_t **routes;   /* routes ending here, sorted by rt_route_order once compiled */
    size_t nroutes, routes_cap;
} rt_node_t;

typedef struct rt_verb {
    const char *s; /* owned by a template */
    size_t len;
} rt_verb_t;

struct route_table {
    rt_route_t **routes;
    size_t nroutes, routes_cap;
    rt_node_t *root;
    rt_verb_t *verbs;
    size_t nverbs;
    int compiled;
    int match_unregistered_verb;
};

route_table_t *route_table_new(void)
{
    return calloc(1, sizeof(route_table_t));
}

static void node_free(rt_node_t *n)
{
    if (n == NULL)
        return;
    for (size_t i = 0; i < n->nlits; i++)
        node_free(n->lits[i].child);
    node_free(n->star);
    node_free(n->dstar);
    free(n->lits);
    free(n->routes);
    free(n);
}

void route_table_free(route_table_t *t)
{
    if (t == NULL)
        return;
    node_free(t->root);
    for (size_t i = 0; i < t->nroutes; i++) {
        free(t->routes[i]->method);
        path_template_free(t->routes[i]->tmpl);
        free(t->routes[i]);
    }
    free(t->routes);
    free(t->verbs);
    free(t);
}

void route_table_set_match_unregistered_verb(route_table_t *t, int on)
{
    t->match_unregistered_verb = on != 0;
}

/* RFC 9110 token characters. */
static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

int route_table_add(route_table_t *t, const char *method, const char *tmpl, void *target, util_error_t *err)
{
    if (t->compiled)
        return util_error_set(err, ROUTE_TABLE_ERR_STATE, "route %s %s: the route table is already compiled", method, tmpl);
    size_t mlen = strlen(method);
    int ok = mlen > 0 && mlen <= 64;
    for (size_t i = 0; ok && i < mlen; i++)
        ok = is_tchar((unsigned char)method[i]);
    if (!ok)
        return util_error_set(err, ROUTE_TABLE_ERR_METHOD,
                              "route \"%.64s\" %s: the method must be an HTTP token such as GET, or \"*\"", method, tmpl);
    path_template_t *pt;
    if (path_template_parse(tmpl, strlen(tmpl), &pt, err) != 0) {
        util_error_prefix(err, "route %s", method);
        return -1;
    }
    rt_route_t *r = calloc(1, sizeof(*r));
    char *m = malloc(mlen + 1);
    if (t->nroutes == t->routes_cap) {
        size_t cap = t->routes_cap ? t->routes_cap * 2 : 16;
        rt_route_t **n = realloc(t->routes, cap * sizeof(*n));
        if (n != NULL) {
            t->routes = n;
            t->routes_cap = cap;
        }
    }
    if (r == NULL || m == NULL || t->nroutes == t->routes_cap) {
        free(r);
        free(m);
        path_template_free(pt);
        return util_error_set(err, ROUTE_TABLE_ERR_NOMEM, "route %s %s: out of memory", method, tmpl);
    }
    memcpy(m, method, mlen + 1);
    r->method = m;
    r->method_len = mlen;
    r->any_method = mlen == 1 && m[0] == '*';
    r->tmpl = pt;
    r->target = target;
    r->index = t->nroutes;
    t->routes[t->nroutes++] = r;
    return 0;
}

/* ---------------------------------------------------------------------------------------------- */

static int bytes_order(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen;
}

/* Same order as path_template_literal_cmp, so route_table_match can binary-search. */
static int rt_lit_order(const void *a, const void *b)
{
    const rt_edge_t *x = a, *y = b;
    return bytes_order(x->lit, x->len, y->lit, y->len);
}

static int verb_order(const path_template_t *a, const path_template_t *b)
{
    if (a->verb == NULL || b->verb == NULL)
        return (a->verb != NULL) - (b->verb != NULL);
    return bytes_order(a->verb, a->verb_len, b->verb, b->verb_len);
}

/* Verb, then exact methods before "*", then method bytes: the order terminal() tries them in. */
static int rt_route_order(const void *a, const void *b)
{
    const rt_route_t *x = *(rt_route_t *const *)a, *y = *(rt_route_t *const *)b;
    int c = verb_order(x->tmpl, y->tmpl);
    if (c != 0)
        return c;
    if (x->any_method != y->any_method)
        return x->any_method - y->any_method;
    return bytes_order(x->method, x->method_len, y->method, y->method_len);
}

static rt_node_t *node_new(void)
{
    return calloc(1, sizeof(rt_node_t));
}

static rt_node_t *node_lit_child(rt_node_t *n, const char *lit, size_t len)
{
    for (size_t i = 0; i < n->nlits; i++)
        if (n->lits[i].len == len && memcmp(n->lits[i].lit, lit, len) == 0)
            return n->lits[i].child;
    if (n->nlits == n->lits_cap) {
        size_t cap = n->lits_cap ? n->lits_cap * 2 : 4;
        rt_edge_t *e = realloc(n->lits, cap * sizeof(*e));
        if (e == NULL)
            return NULL;
        n->lits = e;
        n->lits_cap = cap;
    }
    rt_node_t *c = node_new();
    if (c == NULL)
        return NULL;
    n->lits[n->nlits++] = (rt_edge_t){lit, len, c};
    return c;
}

static void node_sort(rt_node_t *n)
{
    if (n == NULL)
        return;
    if (n->nlits > 1)
        qsort(n->lits, n->nlits, sizeof(*n->lits), rt_lit_order);
    if (n->nroutes > 1)
        qsort(n->routes, n->nroutes, sizeof(*n->routes), rt_route_order);
    for (size_t i = 0; i < n->nlits; i++)
        node_sort(n->lits[i].child);
    node_sort(n->star);
    node_sort(n->dstar);
}

/* Drops a half-built trie so that a failed compile leaves the table as before. */
static void compile_reset(route_table_t *t)
{
    node_free(t->root);
    t->root = NULL;
    free(t->verbs);
    t->verbs = NULL;
    t->nverbs = 0;
}

static int compile_nomem(route_table_t *t, util_error_t *err)
{
    compile_reset(t);
    return util_error_set(err, ROUTE_TABLE_ERR_NOMEM, "route table: out of memory");
}

static int insert_route(route_table_t *t, rt_route_t *r, util_error_t *err)
{
    rt_node_t *n = t->root;
    const path_template_t *pt = r->tmpl;
    for (size_t i = 0; i < pt->nsegments && n != NULL; i++) {
        const path_template_segment_t *s = &pt->segments[i];
        rt_node_t **slot = s->kind == PATH_TEMPLATE_SEG_STAR ? &n->star : &n->dstar;
        if (s->kind == PATH_TEMPLATE_SEG_LITERAL) {
            n = node_lit_child(n, s->literal, s->literal_len);
            continue;
        }
        if (*slot == NULL)
            *slot = node_new();
        n = *slot;
    }
    if (n == NULL)
        return compile_nomem(t, err);
    for (size_t i = 0; i < n->nroutes; i++) {
        const rt_route_t *o = n->routes[i];
        int same_method =
            o->any_method == r->any_method && o->method_len == r->method_len && memcmp(o->method, r->method, r->method_len) == 0;
        if (same_method && verb_order(o->tmpl, pt) == 0) {
            compile_reset(t);
            return util_error_set(err, ROUTE_TABLE_ERR_AMBIGUOUS,
                                  "routes \"%s %s\" (#%zu) and \"%s %s\" (#%zu) are ambiguous: same method, same path shape "
                                  "and same verb, so no request could tell them apart",
                                  o->method, o->tmpl->source, o->index + 1, r->method, pt->source, r->index + 1);
        }
    }
    if (n->nroutes == n->routes_cap) {
        size_t cap = n->routes_cap ? n->routes_cap * 2 : 2;
        rt_route_t **rs = realloc(n->routes, cap * sizeof(*rs));
        if (rs == NULL)
            return compile_nomem(t, err);
        n->routes = rs;
        n->routes_cap = cap;
    }
    n->routes[n->nroutes++] = r;
    return 0;
}

int route_table_compile(route_table_t *t, util_error_t *err)
{
    if (t->compiled)
        return util_error_set(err, ROUTE_TABLE_ERR_STATE, "route table: already compiled");
    t->root = node_new();
    t->verbs = calloc(t->nroutes ? t->nroutes : 1, sizeof(*t->verbs));
    if (t->root == NULL || t->verbs == NULL)
        return compile_nomem(t, err);
    for (size_t i = 0; i < t->nroutes; i++) {
        if (insert_route(t, t->routes[i], err) != 0)
            return -1;
        const path_template_t *pt = t->routes[i]->tmpl;
        if (pt->verb == NULL)
            continue;
        size_t j = 0;
        while (j < t->nverbs && bytes_order(t->verbs[j].s, t->verbs[j].len, pt->verb, pt->verb_len) != 0)
            j++;
        if (j == t->nverbs)
            t->verbs[t->nverbs++] = (rt_verb_t){pt->verb, pt->verb_len};
    }
    node_sort(t->root);
    t->compiled = 1;
    return 0;
}

/* ---------------------------------------------------------------------------------------------- */

typedef struct match_state {
    const char *path;
    size_t end; /* the path without the verb */
    const char *verb;
    size_t verb_len;
    const char *method;
    size_t method_len;
    int has_pct; /* any "%" in the path: literals need the normalising comparison */
    const rt_route_t *found;
    route_match_t *out;
    /* seg_pos[i] = offset of the "/" that starts the i-th segment; seg_pos[nsegments] = end. */
    size_t seg_pos[PATH_TEMPLATE_MAX_SEGMENTS + 1];
} match_state_t;

static int verb_matches(const match_state_t *s, const path_template_t *pt)
{
    if (pt->verb == NULL || s->verb == NULL)
        return pt->verb == NULL && s->verb == NULL;
    return path_template_literal_cmp(s->verb, s->verb_len, pt->verb, pt->verb_len) == 0;
}

static void allowed_add(route_match_t *out, const rt_route_t *r)
{
    size_t i = 0;
    while (i < out->nallowed) {
        int c = strcmp(out->allowed[i], r->method);
        if (c == 0)
            return;
        if (c > 0)
            break;
        i++;
    }
    if (out->nallowed == ROUTE_ALLOWED_MAX) {
        out->allowed_truncated = 1;
        if (i == ROUTE_ALLOWED_MAX)
            return;
        out->nallowed--;
    }
    memmove(&out->allowed[i + 1], &out->allowed[i], (out->nallowed - i) * sizeof(out->allowed[0]));
    out->allowed[i] = r->method;
    out->nallowed++;
}

/* All path segments are consumed at trie depth |depth|: does a route here take the request? */
static int terminal(match_state_t *s, const rt_node_t *n, size_t depth)
{
    s->seg_pos[depth] = s->end;
    for (size_t i = 0; i < n->nroutes; i++) {
        const rt_route_t *r = n->routes[i];
        if (!verb_matches(s, r->tmpl))
            continue;
        if (r->any_method || (r->method_len == s->method_len && memcmp(r->method, s->method, s->method_len) == 0)) {
            s->found = r;
            return 1;
        }
        allowed_add(s->out, r);
    }
    return 0;
}

static int walk(match_state_t *s, const rt_node_t *n, size_t pos, size_t depth)
{
    if (pos == s->end) {
        if (n->nroutes > 0 && terminal(s, n, depth))
            return 1;
        if (n->dstar != NULL) { /* "**" matching zero segments */
            s->seg_pos[depth] = pos;
            return terminal(s, n->dstar, depth + 1);
        }
        return 0;
    }
    if (depth == PATH_TEMPLATE_MAX_SEGMENTS)
        return 0;
    s->seg_pos[depth] = pos;
    size_t start = pos + 1;
    const char *slash = memchr(s->path + start, '/', s->end - start);
    size_t seg_end = slash != NULL ? (size_t)(slash - s->path) : s->end;
    if (n->nlits > 0) {
        const char *seg = s->path + start;
        size_t seg_len = seg_end - start;
        size_t lo = 0, hi = n->nlits;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            int c = s->has_pct ? path_template_literal_cmp(seg, seg_len, n->lits[mid].lit, n->lits[mid].len)
                               : bytes_order(seg, seg_len, n->lits[mid].lit, n->lits[mid].len);
            if (c == 0) {
                if (walk(s, n->lits[mid].child, seg_end, depth + 1))
                    return 1;
                break;
            }
            if (c < 0)
                hi = mid;
            else
                lo = mid + 1;
        }
    }
    if (n->star != NULL && seg_end > start && walk(s, n->star, seg_end, depth + 1))
        return 1;
    if (n->dstar != NULL && terminal(s, n->dstar, depth + 1))
        return 1;
    return 0;
}

/* Splits a registered (or, if enabled, any) ":verb" off the last segment. */
static void split_verb(const route_table_t *t, match_state_t *s, size_t path_len)
{
    s->end = path_len;
    s->verb = NULL;
    s->verb_len = 0;
    if (t->nverbs == 0 && !t->match_unregistered_verb)
        return;
    size_t i = path_len;
    while (i > 0 && s->path[i - 1] != '/' && s->path[i - 1] != ':')
        i--;
    if (i == 0 || s->path[i - 1] != ':' || i == path_len)
        return;
    const char *v = s->path + i;
    size_t vlen = path_len - i;
    int known = t->match_unregistered_verb;
    for (size_t j = 0; !known && j < t->nverbs; j++)
        known = path_template_literal_cmp(v, vlen, t->verbs[j].s, t->verbs[j].len) == 0;
    if (!known)
        return;
    s->verb = v;
    s->verb_len = vlen;
    s->end = i - 1;
}

route_match_status_t route_table_match(const route_table_t *t, const char *method, size_t method_len, const char *path,
                                       size_t path_len, route_match_t *out)
{
    out->target = NULL;
    out->method = out->tmpl = NULL;
    out->parsed = NULL;
    out->ncaptures = 0;
    out->nallowed = 0;
    out->allowed_truncated = 0;
    if (path_len == 0 || path[0] != '/')
        return ROUTE_MATCH_BAD_PATH;
    const char *pct = memchr(path, '%', path_len);
    if (pct != NULL && !path_template_escapes_valid(pct, path_len - (size_t)(pct - path)))
        return ROUTE_MATCH_BAD_PATH;
    if (!t->compiled)
        return ROUTE_MATCH_NOT_FOUND;

    match_state_t s;
    s.path = path;
    s.method = method;
    s.method_len = method_len;
    s.has_pct = pct != NULL;
    s.found = NULL;
    s.out = out;
    split_verb(t, &s, path_len);
    if (!walk(&s, t->root, 0, 0))
        return out->nallowed > 0 ? ROUTE_MATCH_METHOD_NOT_ALLOWED : ROUTE_MATCH_NOT_FOUND;

    const rt_route_t *r = s.found;
    const path_template_t *pt = r->tmpl;
    out->nallowed = 0;
    out->allowed_truncated = 0;
    out->target = r->target;
    out->method = r->method;
    out->tmpl = pt->source;
    out->parsed = pt;
    for (size_t i = 0; i < pt->nvars; i++) {
        const path_template_var_t *v = &pt->vars[i];
        size_t from = s.seg_pos[v->first], to = s.seg_pos[v->first + v->count];
        route_capture_t *c = &out->captures[i];
        c->field_path = v->field_path;
        c->multi_segment = v->multi_segment;
        if (from < to) {
            c->raw = path + from + 1;
            c->raw_len = to - from - 1;
        } else {
            c->raw = path + to;
            c->raw_len = 0;
        }
    }
    out->ncaptures = pt->nvars;
    return ROUTE_MATCH_OK;
}

size_t route_capture_decode(const route_capture_t *c, path_template_unescape_t mode, char *out)
{
    return path_template_unescape(c->raw, c->raw_len, c->multi_segment ? mode : PATH_TEMPLATE_UNESCAPE_ALL, out);
}

size_t route_match_allow_header(const route_match_t *m, char *out, size_t cap)
{
    size_t need = 0;
    for (size_t i = 0; i < m->nallowed; i++) {
        for (const char *p = i ? ", " : ""; *p; p++, need++)
            if (need + 1 < cap)
                out[need] = *p;
        for (const char *p = m->allowed[i]; *p; p++, need++)
            if (need + 1 < cap)
                out[need] = *p;
    }
    if (cap > 0)
        out[need < cap ? need : cap - 1] = '\0';
    return need;
}

size_t route_table_count(const route_table_t *t)
{
    return t->nroutes;
}

int route_table_get(const route_table_t *t, size_t i, const char **method, const char **tmpl, void **target)
{
    if (i >= t->nroutes)
        return -1;
    if (method != NULL)
        *method = t->routes[i]->method;
    if (tmpl != NULL)
        *tmpl = t->routes[i]->tmpl->source;
    if (target != NULL)
        *target = t->routes[i]->target;
    return 0;
}
