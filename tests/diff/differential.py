#!/usr/bin/python3
"""differential.py — checks portico's JSON <-> protobuf codec against Python protobuf's json_format.

Run with Debian's /usr/bin/python3 (python3-protobuf 4.21). The reference implementation is
google.protobuf.json_format over classes built at run time from the same descriptor set that
portico loads (descriptor_pb2.FileDescriptorSet -> DescriptorPool -> MessageFactory).

For N random portico.test.Everything messages (seeded; the seed is printed) and each option
combination (defaults, --emit-defaults, --proto-names, --enum-ints) it checks:
  a. binary -> portico JSON equals python MessageToJson with the same options, compared as parsed
     JSON with the schema in hand: 64-bit integers must be strings, 32-bit ones numbers, doubles are
     compared bit for bit (-0 included), float fields after rounding to float32, and every portico
     number must be written with no more significant digits than python's (shortest round trip);
  b. python JSON -> portico binary -> python ParseFromString equals the original (NaN-aware);
  c. portico JSON -> python json_format.Parse succeeds and equals the original.
Then a table of hand-written JSON documents: portico must accept exactly what python accepts
(and produce the same message), except where python's parser is known to depart from the proto3
JSON spec; those rows state the spec's answer and why.

Spawning the CLI once per message would take minutes under ASan, so messages are batched: the
script writes a descriptor set that adds `portico.difftest.Batch { repeated Everything items = 1; }`
and transcodes one Batch per option combination. A failing batch is retried item by item so the
report names the exact message. Exit status: 0 when every check passed, 1 otherwise.
"""

import argparse
import json
import math
import os
import random
import struct
import subprocess
import sys
import tempfile

from google.protobuf import descriptor, descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf.internal import type_checkers

# python-protobuf 4.21 prints float FLT_MAX as 3.4028235e+38 (ToShortestFloat) and then rejects
# that text as larger than FLT_MAX when parsing it back. Widen its limit to the float32 rounding
# boundary (the largest double that still rounds to FLT_MAX) so python can read its own output.
type_checkers._FLOAT_MAX = math.nextafter(3.4028235677973366e38, 0.0)
type_checkers._FLOAT_MIN = -type_checkers._FLOAT_MAX

FD = descriptor.FieldDescriptor
EVERYTHING = "portico.test.Everything"
BATCH = "portico.difftest.Batch"

OPTION_SETS = [
    # (name, CLI flags, MessageToJson keyword arguments, json.dumps keyword arguments for direction b)
    ("defaults", [], {}, {"ensure_ascii": True}),
    ("emit-defaults", ["--emit-defaults"], {"including_default_value_fields": True}, {"ensure_ascii": False}),
    ("proto-names", ["--proto-names"], {"preserving_proto_field_name": True}, {"ensure_ascii": False, "indent": 2}),
    ("enum-ints", ["--enum-ints"], {"use_integers_for_enums": True}, {"ensure_ascii": True, "indent": 1}),
]

WRAPPERS = {
    "google.protobuf.DoubleValue", "google.protobuf.FloatValue", "google.protobuf.Int64Value",
    "google.protobuf.UInt64Value", "google.protobuf.Int32Value", "google.protobuf.UInt32Value",
    "google.protobuf.BoolValue", "google.protobuf.StringValue", "google.protobuf.BytesValue",
}
# Types whose JSON form is not an object of fields; inside Any they sit under "value".
SPECIAL_WKT = WRAPPERS | {
    "google.protobuf.Any", "google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask",
    "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue",
}
INT64_TYPES = {FD.TYPE_INT64, FD.TYPE_UINT64, FD.TYPE_SINT64, FD.TYPE_FIXED64, FD.TYPE_SFIXED64}
INT32_TYPES = {FD.TYPE_INT32, FD.TYPE_UINT32, FD.TYPE_SINT32, FD.TYPE_FIXED32, FD.TYPE_SFIXED32}


# ----------------------------------------------------------------------------------------------
# Descriptor loading


class Schema:
    def __init__(self, desc_path):
        fds = descriptor_pb2.FileDescriptorSet()
        with open(desc_path, "rb") as f:
            fds.ParseFromString(f.read())
        self.fds = fds
        self.pool = descriptor_pool.DescriptorPool()
        for fp in fds.file:
            self.pool.Add(fp)
        self.test_file = next(fp.name for fp in fds.file if fp.package == "portico.test")
        self.batch_file = descriptor_pb2.FileDescriptorProto(
            name="portico_difftest/batch.proto", package="portico.difftest", syntax="proto3",
            dependency=[self.test_file])
        bm = self.batch_file.message_type.add(name="Batch")
        bm.field.add(name="items", json_name="items", number=1, label=FD.LABEL_REPEATED, type=FD.TYPE_MESSAGE,
                     type_name="." + EVERYTHING)
        self.pool.Add(self.batch_file)
        self.factory = message_factory.MessageFactory(self.pool)
        self._classes = {}

    def cls(self, full_name):
        if full_name not in self._classes:
            d = self.pool.FindMessageTypeByName(full_name)
            get = getattr(message_factory, "GetMessageClass", None)
            self._classes[full_name] = get(d) if get else self.factory.GetPrototype(d)
        return self._classes[full_name]

    def new(self, full_name, **kw):
        return self.cls(full_name)(**kw)

    def write_batch_set(self, path):
        out = descriptor_pb2.FileDescriptorSet()
        out.file.extend(self.fds.file)
        out.file.append(self.batch_file)
        with open(path, "wb") as f:
            f.write(out.SerializeToString())


# ----------------------------------------------------------------------------------------------
# Random messages


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


INT32_EDGES = [0, 1, -1, 127, 128, -129, 2**31 - 1, -2**31, 300, -300]
UINT32_EDGES = [0, 1, 127, 128, 2**31, 2**32 - 1]
INT64_EDGES = [0, 1, -1, 2**63 - 1, -2**63, 2**53, 2**53 + 1, -(2**53) - 1, 2**31, -2**31 - 1, 10**18]
UINT64_EDGES = [0, 1, 2**64 - 1, 2**63, 2**53 + 1, 2**32, 10**19]
DOUBLE_EDGES = [0.0, -0.0, float("nan"), float("inf"), float("-inf"), 5e-324, 2.2250738585072014e-308,
                1.7976931348623157e308, -1.7976931348623157e308, 0.1, 1.0, -2.5, 1e21, 1e-7, 123456789012345680000.0,
                9007199254740993.0, 1e16, 0.30000000000000004, 1e-300, 1 / 3]
FLOAT_EDGES = [0.0, -0.0, float("nan"), float("inf"), float("-inf"), f32(1.4e-45), f32(1.17549435e-38),
               f32(3.4028234663852886e38), f32(-3.4028234663852886e38), f32(0.1), f32(16777217.0), f32(1e10),
               f32(1.5), f32(-1e-10), f32(3.14159)]
CHARS = (list("abcxyzABC019 _-.:/") + ['"', "\\", "\x00", "\x01", "\x1f", "\x7f", "\b", "\f", "\n", "\r", "\t"] +
         ["é", "ß", "中", "文", "\u2028", "\u2029", "\ufeff", "\uffff", "\u0800", "\u07ff"] +
         ["😀", "𝄞", "\U0010ffff", "\U00010000"])
COLORS = [0, 1, 2, 3, -1]


class Gen:
    def __init__(self, schema, rnd):
        self.s = schema
        self.r = rnd

    def chance(self, p):
        return self.r.random() < p

    def int32(self):
        return self.r.choice(INT32_EDGES) if self.chance(0.5) else self.r.randint(-2**31, 2**31 - 1)

    def uint32(self):
        return self.r.choice(UINT32_EDGES) if self.chance(0.5) else self.r.randint(0, 2**32 - 1)

    def int64(self):
        return self.r.choice(INT64_EDGES) if self.chance(0.5) else self.r.randint(-2**63, 2**63 - 1)

    def uint64(self):
        return self.r.choice(UINT64_EDGES) if self.chance(0.5) else self.r.randint(0, 2**64 - 1)

    def double(self, finite=False):
        while True:
            k = self.r.random()
            if k < 0.4:
                v = self.r.choice(DOUBLE_EDGES)
            elif k < 0.7:
                v = struct.unpack("<d", self.r.getrandbits(64).to_bytes(8, "little"))[0]
            else:
                v = round(self.r.uniform(-1e6, 1e6), self.r.randint(0, 6))
            if math.isnan(v):
                v = float("nan")
            if not finite or math.isfinite(v):
                return v

    def float(self):
        k = self.r.random()
        if k < 0.4:
            return self.r.choice(FLOAT_EDGES)
        if k < 0.7:
            v = struct.unpack("<f", self.r.getrandbits(32).to_bytes(4, "little"))[0]
            return float("nan") if math.isnan(v) else v
        return f32(round(self.r.uniform(-1e4, 1e4), self.r.randint(0, 4)))

    def string(self, maxlen=12):
        return "".join(self.r.choice(CHARS) for _ in range(self.r.randint(0, maxlen)))

    def bytes(self):
        return bytes(self.r.getrandbits(8) for _ in range(self.r.randint(0, 9)))

    def enum(self):
        return self.r.choice(COLORS) if self.chance(0.85) else self.r.choice([7, 100, -5, 2**31 - 1])

    def nested(self, m, depth=0):
        if self.chance(0.6):
            m.a = self.int32()
        if self.chance(0.6):
            m.b = self.string()
        if depth < 3 and self.chance(0.3):
            self.nested(m.child, depth + 1)
        if self.chance(0.3):
            m.nums.extend(self.int32() for _ in range(self.r.randint(0, 4)))
        if self.chance(0.1):
            m.SetInParent()
        return m

    def scalars(self, m):
        setters = [
            lambda: setattr(m, "f_double", self.double()), lambda: setattr(m, "f_float", self.float()),
            lambda: setattr(m, "f_int64", self.int64()), lambda: setattr(m, "f_uint64", self.uint64()),
            lambda: setattr(m, "f_int32", self.int32()), lambda: setattr(m, "f_fixed64", self.uint64()),
            lambda: setattr(m, "f_fixed32", self.uint32()), lambda: setattr(m, "f_bool", self.chance(0.5)),
            lambda: setattr(m, "f_string", self.string(30)), lambda: setattr(m, "f_bytes", self.bytes()),
            lambda: setattr(m, "f_uint32", self.uint32()), lambda: setattr(m, "f_enum", self.enum()),
            lambda: setattr(m, "f_sfixed32", self.int32()), lambda: setattr(m, "f_sfixed64", self.int64()),
            lambda: setattr(m, "f_sint32", self.int32()), lambda: setattr(m, "f_sint64", self.int64()),
        ]
        for s in setters:
            if self.chance(0.6):
                s()
        m.SetInParent()

    def repeated(self, m):
        def n():
            return self.r.randint(0, 5)
        table = [
            (m.r_double, self.double), (m.r_float, self.float), (m.r_int64, self.int64), (m.r_uint64, self.uint64),
            (m.r_int32, self.int32), (m.r_fixed64, self.uint64), (m.r_fixed32, self.uint32),
            (m.r_bool, lambda: self.chance(0.5)), (m.r_string, self.string), (m.r_bytes, self.bytes),
            (m.r_uint32, self.uint32), (m.r_enum, self.enum), (m.r_sfixed32, self.int32),
            (m.r_sfixed64, self.int64), (m.r_sint32, self.int32), (m.r_sint64, self.int64),
            (m.r_unpacked, self.int32),
        ]
        for field, gen in table:
            if self.chance(0.5):
                field.extend(gen() for _ in range(n()))
        if self.chance(0.5):
            for _ in range(n()):
                self.nested(m.r_nested.add())
        m.SetInParent()

    def maps(self, m):
        def n():
            return self.r.randint(0, 4)
        table = [
            (m.m_string, self.string, self.string), (m.m_int32, self.int32, self.int32),
            (m.m_int64, self.int64, self.int64), (m.m_uint32, self.uint32, self.uint32),
            (m.m_uint64, self.uint64, self.uint64), (m.m_sint32, self.int32, self.int32),
            (m.m_sint64, self.int64, self.int64), (m.m_fixed32, self.uint32, self.uint32),
            (m.m_fixed64, self.uint64, self.uint64), (m.m_sfixed32, self.int32, self.int32),
            (m.m_sfixed64, self.int64, self.int64), (m.m_bool, lambda: self.chance(0.5), lambda: self.chance(0.5)),
            (m.m_enum, self.string, self.enum), (m.m_bytes, self.string, self.bytes),
            (m.m_double, self.string, self.double),
        ]
        for field, kgen, vgen in table:
            if self.chance(0.4):
                for _ in range(n()):
                    field[kgen()] = vgen()
        if self.chance(0.4):
            for _ in range(n()):
                self.nested(m.m_nested[self.string()], 1)
        if self.chance(0.4):
            for _ in range(n()):
                self.value(m.m_value[self.string()], 1)
        m.SetInParent()

    def value(self, v, depth=0):
        k = self.r.randint(0, 5 if depth < 3 else 3)
        if k == 0:
            v.null_value = 0
        elif k == 1:
            v.number_value = self.double(finite=True)
        elif k == 2:
            v.string_value = self.string()
        elif k == 3:
            v.bool_value = self.chance(0.5)
        elif k == 4:
            self.struct(v.struct_value, depth + 1)
        else:
            self.list_value(v.list_value, depth + 1)
        return v

    def struct(self, s, depth=0):
        s.SetInParent()
        for _ in range(self.r.randint(0, 3)):
            self.value(s.fields[self.string(6)], depth)
        return s

    def list_value(self, lv, depth=0):
        lv.SetInParent()
        for _ in range(self.r.randint(0, 3)):
            self.value(lv.values.add(), depth)
        return lv

    def timestamp(self, t):
        k = self.r.random()
        if k < 0.3:
            t.seconds = self.r.choice([-62135596800, 253402300799, 0, -1, 951782400, 4107542400])
        else:
            t.seconds = self.r.randint(-62135596800, 253402300799)
        t.nanos = self.nanos(positive=True)
        return t

    def nanos(self, positive):
        kind = self.r.randint(0, 4)
        if kind == 0:
            v = 0
        elif kind == 1:
            v = self.r.randint(1, 999) * 1000000
        elif kind == 2:
            v = self.r.randint(1, 999999) * 1000
        elif kind == 3:
            v = self.r.randint(1, 999999999)
        else:
            v = self.r.choice([999999999, 1, 1000, 1000000, 100000000])
        return v if positive or self.chance(0.5) else -v

    def duration(self, d):
        k = self.r.random()
        if k < 0.2:
            d.seconds, d.nanos = self.r.choice([(315576000000, 999999999), (-315576000000, -999999999), (0, -1),
                                                (0, 0), (-1, -500000000), (0, 500), (1, 0)])
            return d
        s = self.r.randint(-315576000000, 315576000000) if k < 0.6 else self.r.randint(-100, 100)
        n = abs(self.nanos(positive=True))
        d.seconds = s
        d.nanos = -n if s < 0 else n
        if s == 0 and self.chance(0.5):
            d.nanos = -n
        return d

    def field_mask(self, fm):
        words = ["a", "foo", "foo_bar", "x_y_z", "nested", "deep_er"]
        for _ in range(self.r.randint(0, 3)):
            fm.paths.append(".".join(self.r.choice(words) for _ in range(self.r.randint(1, 3))))
        fm.SetInParent()
        return fm

    def wrapper(self, name):
        m = self.s.new("google.protobuf." + name)
        gen = {"DoubleValue": self.double, "FloatValue": self.float, "Int64Value": self.int64,
               "UInt64Value": self.uint64, "Int32Value": self.int32, "UInt32Value": self.uint32,
               "BoolValue": lambda: self.chance(0.5), "StringValue": self.string, "BytesValue": self.bytes}[name]
        if self.chance(0.8):
            m.value = gen()
        return m

    def any_payload(self, depth):
        k = self.r.randint(0, 13 if depth < 2 else 11)
        if k == 0:
            return self.small(self.s.new("portico.test.Small"))
        if k == 1:
            return self.timestamp(self.s.new("google.protobuf.Timestamp"))
        if k == 2:
            return self.duration(self.s.new("google.protobuf.Duration"))
        if k == 3:
            return self.value(self.s.new("google.protobuf.Value"), 1)
        if k == 4:
            return self.struct(self.s.new("google.protobuf.Struct"), 1)
        if k == 5:
            return self.list_value(self.s.new("google.protobuf.ListValue"), 1)
        if k == 6:
            return self.field_mask(self.s.new("google.protobuf.FieldMask"))
        if k == 7:
            return self.wrapper(self.r.choice(["Int64Value", "StringValue", "BytesValue", "DoubleValue",
                                               "FloatValue", "BoolValue", "UInt32Value"]))
        if k == 8:
            return self.s.new("google.protobuf.Empty")
        if k == 9:
            return self.nested(self.s.new("portico.test.Nested"))
        if k == 10:
            s = self.s.new("portico.test.Scalars")
            self.scalars(s)
            return s
        if k == 11:
            return self.s.new("portico.test.Small")  # packs to empty bytes
        if k == 12:
            a = self.s.new("google.protobuf.Any")
            a.Pack(self.any_payload(depth + 1))
            return a
        return self.everything(depth + 1)

    def small(self, m):
        if self.chance(0.8):
            m.sku = self.string()
        if self.chance(0.8):
            m.amount_micros = self.int64()
        if self.chance(0.5):
            m.currency = self.r.choice(["EUR", "USD", ""])
        if self.chance(0.5):
            m.quantity = self.int32()
        if self.chance(0.5):
            m.tags.extend(self.string(5) for _ in range(self.r.randint(0, 3)))
        if self.chance(0.5):
            self.timestamp(m.updated_at)
        if self.chance(0.5):
            m.color = self.enum()
        return m

    def well_known(self, w, depth):
        if self.chance(0.5):
            w.any.Pack(self.any_payload(depth))
        elif self.chance(0.1):
            w.any.SetInParent()  # empty Any prints as {}
        if self.chance(0.6):
            self.timestamp(w.timestamp)
        if self.chance(0.6):
            self.duration(w.duration)
        if self.chance(0.4):
            self.field_mask(w.field_mask)
        if self.chance(0.4):
            self.struct(w.struct)
        if self.chance(0.4):
            self.value(w.value)
        if self.chance(0.3):
            self.list_value(w.list_value)
        if self.chance(0.1):
            w.null_value = 0
        if self.chance(0.3):
            w.empty.SetInParent()
        for name, field in [("DoubleValue", "double_value"), ("FloatValue", "float_value"),
                            ("Int64Value", "int64_value"), ("UInt64Value", "uint64_value"),
                            ("Int32Value", "int32_value"), ("UInt32Value", "uint32_value"),
                            ("BoolValue", "bool_value"), ("StringValue", "string_value"),
                            ("BytesValue", "bytes_value")]:
            if self.chance(0.3):
                getattr(w, field).CopyFrom(self.wrapper(name))
        if self.chance(0.3):
            for _ in range(self.r.randint(0, 3)):
                self.timestamp(w.r_timestamp.add())
        if self.chance(0.3):
            for _ in range(self.r.randint(0, 3)):
                self.value(w.r_value.add(), 1)
        if self.chance(0.3):
            for _ in range(self.r.randint(0, 3)):
                w.r_any.add().Pack(self.any_payload(depth + 1))
        if self.chance(0.3):
            for _ in range(self.r.randint(0, 3)):
                w.r_int32_value.add().CopyFrom(self.wrapper("Int32Value"))
        w.SetInParent()

    def everything(self, depth=0):
        m = self.s.new(EVERYTHING)
        if self.chance(0.7):
            self.scalars(m.scalars)
        if self.chance(0.6):
            self.repeated(m.repeated)
        if self.chance(0.6):
            self.maps(m.maps)
        if depth < 3 and self.chance(0.6):
            self.well_known(m.well_known, depth)
        if self.chance(0.5):
            self.nested(m.nested)
        k = self.r.randint(0, 5)
        if k == 1:
            m.choice_string = self.string()
        elif k == 2:
            m.choice_int = self.int32()
        elif k == 3:
            self.nested(m.choice_nested)
        elif k == 4:
            m.choice_null = 0
        if self.chance(0.5):
            m.opt_int32 = self.r.choice([0, self.int32()])
        if self.chance(0.5):
            m.opt_string = self.r.choice(["", self.string()])
        if self.chance(0.5):
            m.opt_enum = self.r.choice([0, self.enum()])
        if self.chance(0.5):
            m.custom_json = self.int32()
        if self.chance(0.5):
            m.snake_case_name = self.string()
        if self.chance(0.5):
            m.field_with_1_digit = self.int32()
        return m


# ----------------------------------------------------------------------------------------------
# Canonical form of a message, for NaN-aware equality that ignores wire order and map order.


def canon(schema, m):
    d = m.DESCRIPTOR
    if d.full_name == "google.protobuf.Any" and m.type_url:
        try:
            inner = schema.new(m.type_url.split("/")[-1])
            inner.ParseFromString(m.value)
            return ("any", m.type_url, canon(schema, inner))
        except Exception:  # unknown type: compare raw bytes
            return ("any", m.type_url, m.value)
    out = []
    for f, v in m.ListFields():
        if f.message_type is not None and f.message_type.GetOptions().map_entry:
            vf = f.message_type.fields_by_name["value"]
            out.append((f.name, tuple(sorted((k, canon_value(schema, vf, v[k])) for k in v))))
        elif f.label == FD.LABEL_REPEATED:
            out.append((f.name, tuple(canon_value(schema, f, x) for x in v)))
        else:
            out.append((f.name, canon_value(schema, f, v)))
    if m.UnknownFields() if hasattr(m, "UnknownFields") else False:
        out.append(("?unknown", True))
    return tuple(out)


def canon_value(schema, f, v):
    if f.cpp_type == FD.CPPTYPE_MESSAGE:
        return canon(schema, v)
    if f.cpp_type in (FD.CPPTYPE_DOUBLE, FD.CPPTYPE_FLOAT):
        if math.isnan(v):
            return ("nan",)
        return ("num", v, math.copysign(1.0, v))
    return v


def first_difference(a, b, path="$"):
    """Returns a short description of where two canonical forms differ."""
    if type(a) is not type(b):
        return "%s: %r != %r" % (path, a, b)
    if isinstance(a, tuple):
        if len(a) == 2 and isinstance(a[0], str) and a[0] not in ("any", "num"):
            if a[0] != b[0]:
                return "%s: field %s vs %s" % (path, a[0], b[0])
            return first_difference(a[1], b[1], path + "." + a[0])
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return first_difference(x, y, "%s[%d]" % (path, i))
        if len(a) != len(b):
            extra = a[len(b):] or b[len(a):]
            return "%s: lengths %d vs %d (extra: %r)" % (path, len(a), len(b), extra[:2])
        return None
    return None if a == b else "%s: %r != %r" % (path, a, b)


# ----------------------------------------------------------------------------------------------
# Schema-aware comparison of two JSON documents (portico's, python's).


class Num:
    """A JSON number token, kept as text so that -0, digit counts and int-vs-float survive parsing."""
    __slots__ = ("text",)

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return self.text


def reject_constant(name):
    raise ValueError("bare %s is not JSON" % name)


def no_duplicates(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise ValueError("duplicate key %r" % k)
        d[k] = v
    return d


def loads_tokens(text):
    return json.loads(text, parse_int=Num, parse_float=Num, parse_constant=reject_constant,
                      object_pairs_hook=no_duplicates)


def loads_for_python(text):
    # JSON "-0" is the double -0.0, but Python's json module reads it as the int 0.
    return json.loads(text, parse_int=lambda t: -0.0 if t == "-0" else int(t), parse_constant=reject_constant,
                      object_pairs_hook=no_duplicates)


def sig_digits(text):
    t = text.lstrip("-+").lower().split("e")[0].replace(".", "").lstrip("0").rstrip("0")
    return max(len(t), 1)


def bits64(x):
    return struct.pack("<d", x)


def short(v, n=200):
    s = json.dumps(v, ensure_ascii=False, default=repr) if not isinstance(v, Num) else v.text
    return s if len(s) <= n else s[:n] + "..."


class JsonComparer:
    def __init__(self, schema):
        self.s = schema

    def message(self, p, q, d, path):
        name = d.full_name
        if name in WRAPPERS:
            return self.scalar(p, q, d.fields_by_name["value"], path)
        if name in ("google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask"):
            return self.same_string(p, q, path)
        if name in ("google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"):
            return self.generic(p, q, path)
        if name == "google.protobuf.Any":
            return self.any(p, q, path)
        if not isinstance(p, dict) or not isinstance(q, dict):
            return "%s: portico %s, python %s" % (path, short(p), short(q))
        return self.fields(p, q, d, path)

    def fields(self, p, q, d, path, skip=()):
        pk = set(p) - set(skip)
        qk = set(q) - set(skip)
        if pk != qk:
            return "%s: keys differ: only portico %s, only python %s" % (path, sorted(pk - qk), sorted(qk - pk))
        for k in sorted(pk):
            f = next((f for f in d.fields if k in (f.json_name, f.name)), None)
            if f is None:
                return "%s: key %r is no field of %s" % (path, k, d.full_name)
            sub = path + "." + k
            err = self.field(p[k], q[k], f, sub)
            if err:
                return err
        return None

    def field(self, p, q, f, path):
        if f.message_type is not None and f.message_type.GetOptions().map_entry:
            if not isinstance(p, dict) or not isinstance(q, dict):
                return "%s: map: portico %s, python %s" % (path, short(p), short(q))
            if set(p) != set(q):
                return "%s: map keys differ: only portico %s, only python %s" % (
                    path, sorted(set(p) - set(q))[:5], sorted(set(q) - set(p))[:5])
            vf = f.message_type.fields_by_name["value"]
            for k in sorted(p):
                err = self.scalar(p[k], q[k], vf, "%s[%s]" % (path, json.dumps(k)))
                if err:
                    return err
            return None
        if f.label == FD.LABEL_REPEATED:
            if not isinstance(p, list) or not isinstance(q, list):
                return "%s: repeated: portico %s, python %s" % (path, short(p), short(q))
            if len(p) != len(q):
                return "%s: %d elements in portico, %d in python" % (path, len(p), len(q))
            for i, (x, y) in enumerate(zip(p, q)):
                err = self.scalar(x, y, f, "%s[%d]" % (path, i))
                if err:
                    return err
            return None
        return self.scalar(p, q, f, path)

    def scalar(self, p, q, f, path):
        bad = "%s: portico %s, python %s" % (path, short(p), short(q))
        t = f.type
        if t in (FD.TYPE_MESSAGE, FD.TYPE_GROUP):
            return self.message(p, q, f.message_type, path)
        if t == FD.TYPE_ENUM:
            if f.enum_type.full_name == "google.protobuf.NullValue" and isinstance(q, type(None)):
                return None if p is None else bad
            if isinstance(q, Num):
                return None if isinstance(p, Num) and self.int_eq(p, q) else bad
            return None if p == q and type(p) is type(q) else bad
        if t in INT64_TYPES:
            return None if isinstance(p, str) and p == q else bad + " (64-bit integers are JSON strings)"
        if t in INT32_TYPES:
            return None if isinstance(p, Num) and isinstance(q, Num) and self.int_eq(p, q) else bad
        if t == FD.TYPE_BOOL:
            return None if p is q else bad
        if t in (FD.TYPE_STRING, FD.TYPE_BYTES):
            return None if isinstance(p, str) and p == q else bad
        if t in (FD.TYPE_DOUBLE, FD.TYPE_FLOAT):
            if isinstance(q, str):
                return None if p == q else bad
            if not isinstance(p, Num):
                return bad
            a, b = float(p.text), float(q.text)
            if t == FD.TYPE_FLOAT:
                a, b = f32(a), f32(b)
            if bits64(a) != bits64(b):
                return bad
            if sig_digits(p.text) > sig_digits(q.text):
                return bad + " (not the shortest form)"
            return None
        return bad

    @staticmethod
    def int_eq(p, q):
        try:
            return int(p.text) == int(q.text)
        except ValueError:
            return False

    @staticmethod
    def same_string(p, q, path):
        if isinstance(p, str) and p == q:
            return None
        return "%s: portico %s, python %s" % (path, short(p), short(q))

    def generic(self, p, q, path):
        bad = "%s: portico %s, python %s" % (path, short(p), short(q))
        if isinstance(q, Num):
            if not isinstance(p, Num) or bits64(float(p.text)) != bits64(float(q.text)):
                return bad
            return bad + " (not the shortest form)" if sig_digits(p.text) > sig_digits(q.text) else None
        if isinstance(q, dict):
            if not isinstance(p, dict) or set(p) != set(q):
                return bad
            for k in sorted(q):
                err = self.generic(p[k], q[k], "%s[%s]" % (path, json.dumps(k)))
                if err:
                    return err
            return None
        if isinstance(q, list):
            if not isinstance(p, list) or len(p) != len(q):
                return bad
            for i, (x, y) in enumerate(zip(p, q)):
                err = self.generic(x, y, "%s[%d]" % (path, i))
                if err:
                    return err
            return None
        return None if type(p) is type(q) and p == q else bad

    def any(self, p, q, path):
        bad = "%s: portico %s, python %s" % (path, short(p), short(q))
        if not isinstance(p, dict) or not isinstance(q, dict):
            return bad
        if not q:
            return None if not p else bad
        if p.get("@type") != q.get("@type"):
            return "%s.@type: portico %s, python %s" % (path, short(p.get("@type")), short(q.get("@type")))
        d = self.s.pool.FindMessageTypeByName(q["@type"].split("/")[-1])
        if d.full_name in SPECIAL_WKT:
            if set(p) != {"@type", "value"} or set(q) != {"@type", "value"}:
                return bad
            return self.message(p["value"], q["value"], d, path + ".value")
        return self.fields(p, q, d, path, skip=("@type",))


# ----------------------------------------------------------------------------------------------
# Running portico


class Portico:
    def __init__(self, binary, desc, plain_desc):
        self.binary = binary
        self.desc = desc  # codec_test.pb plus the Batch wrapper
        self.plain_desc = plain_desc  # codec_test.pb, for reproduction commands
        self.calls = 0

    def run(self, args, data, message=BATCH, timeout=60):
        cmd = [self.binary, "transcode", "-d", self.desc, "-m", message] + args
        self.calls += 1
        p = subprocess.run(cmd, input=data, capture_output=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")

    def command_line(self, args, message):
        return " ".join([self.binary, "transcode", "-d", self.plain_desc, "-m", message] + args)


def error_shape(rc, out, err):
    """Checks the CLI's contract for rejected input; returns a complaint or None."""
    if rc >= 128 or rc < 0:
        return "crashed (exit %d): %s" % (rc, err.strip()[-600:])
    if rc != 1:
        return "exit %d, expected 1; stderr: %s" % (rc, err.strip()[-600:])
    lines = err.splitlines()
    if len(lines) != 1 or not lines[0].startswith("error: "):
        return "stderr must be one line starting with 'error: ', got: %r" % err[-600:]
    if out:
        return "stdout must be empty on error, got %d bytes" % len(out)
    return None


# ----------------------------------------------------------------------------------------------
# Reporting


class Report:
    def __init__(self, show, keep_dir):
        self.passed = 0
        self.failed = 0
        self.show = show
        self.keep_dir = keep_dir
        self.kept = 0

    def ok(self, n=1):
        self.passed += n

    def fail(self, title, details, files=None, repro=None):
        """Counts a failure; prints the first few in full, saving |files| and a command to replay them."""
        self.failed += 1
        if self.failed > self.show:
            return
        print("MISMATCH %d: %s" % (self.failed, title))
        for line in details:
            print("    " + line)
        saved = []
        if files and self.keep_dir:
            os.makedirs(self.keep_dir, exist_ok=True)
            for name, data in files.items():
                p = os.path.join(self.keep_dir, "%d-%s" % (self.failed, name))
                with open(p, "wb") as f:
                    f.write(data)
                saved.append(p)
        if repro and saved:
            print("    repro: %s < %s" % (repro, saved[0]))
        elif saved:
            print("    input: %s" % saved[0])
        print()


# ----------------------------------------------------------------------------------------------
# The random round trips


def batch_of(schema, msgs):
    b = schema.new(BATCH)
    for m in msgs:
        b.items.add().CopyFrom(m)
    return b


def portico_items(portico, args, data):
    """Runs one Batch through portico; returns (output, None) or (None, (exit code, stdout, stderr))."""
    rc, out, err = portico.run(args, data)
    if rc != 0:
        return None, (rc, out, err)
    return out, None


def check_binary_to_json(schema, portico, msgs, base, opt, report):
    name, flags, pykw, _ = opt
    args = ["--from", "binary", "--to", "json"] + flags
    cmp = JsonComparer(schema)
    results = [None] * len(msgs)  # portico JSON text of each item, for direction c
    out, failure = portico_items(portico, args, batch_of(schema, msgs).SerializeToString())
    per_item = None
    if failure is None:
        try:
            doc = loads_tokens(out.decode("utf-8"))
            items = doc.get("items", []) if isinstance(doc, dict) else None
            texts = loads_for_python(out.decode("utf-8"))
            if items is None or len(items) != len(msgs):
                per_item = True
            else:
                per_item = False
                raw_items = texts.get("items", [])
        except ValueError:
            per_item = True
    else:
        per_item = True
    for i, m in enumerate(msgs):
        data = m.SerializeToString()
        if per_item:
            out1, fail1 = portico_items(portico, args, batch_of(schema, [m]).SerializeToString())
            if fail1 is not None:
                rc, o, e = fail1
                report.fail("case %d [%s] binary->json: portico failed (exit %d)" % (base + i, name, rc),
                            ["stderr: " + e.strip()[-800:],
                             "python: " + short(json_format.MessageToJson(m, indent=None, descriptor_pool=schema.pool,
                                                                          **pykw), 600)],
                            {"case.bin": data}, portico.command_line(args, EVERYTHING))
                continue
            try:
                doc1 = loads_tokens(out1.decode("utf-8"))
                item = doc1["items"][0]
                raw = loads_for_python(out1.decode("utf-8"))["items"][0]
            except (ValueError, KeyError, IndexError, TypeError) as e:
                report.fail("case %d [%s] binary->json: portico output is not the expected JSON: %s" % (
                    base + i, name, e), ["output: " + out1.decode("utf-8", "replace")[:800]], {"case.bin": data},
                    portico.command_line(args, EVERYTHING))
                continue
        else:
            item = items[i]
            raw = raw_items[i]
        py_text = json_format.MessageToJson(m, indent=None, descriptor_pool=schema.pool, **pykw)
        err = cmp.message(item, loads_tokens(py_text), schema.pool.FindMessageTypeByName(EVERYTHING), "$")
        if err:
            report.fail("case %d [%s] binary->json differs from python" % (base + i, name),
                        [err, "portico: " + short(raw, 1500), "python:  " + py_text[:1500]],
                        {"case.bin": data}, portico.command_line(args, EVERYTHING))
        else:
            report.ok()
        results[i] = raw
    return results


def check_json_to_binary(schema, portico, msgs, base, opt, report):
    name, flags, pykw, dumpkw = opt
    args = ["--from", "json", "--to", "binary"]
    dicts = [json_format.MessageToDict(m, descriptor_pool=schema.pool, **pykw) for m in msgs]
    text = json.dumps({"items": dicts}, **dumpkw).encode("utf-8")
    rc, out, err = portico.run(args, text)
    parsed = None
    if rc == 0:
        try:
            parsed = schema.new(BATCH)
            parsed.ParseFromString(out)
            if len(parsed.items) != len(msgs):
                parsed = None
        except Exception:
            parsed = None
    for i, m in enumerate(msgs):
        if parsed is not None:
            got = parsed.items[i]
        else:
            one = json.dumps({"items": [dicts[i]]}, **dumpkw).encode("utf-8")
            rc, out, err = portico.run(args, one)
            single = json.dumps(dicts[i], **dumpkw).encode("utf-8")
            if rc != 0:
                report.fail("case %d [%s] json->binary: portico rejected python's JSON (exit %d)" % (
                    base + i, name, rc),
                            ["stderr: " + err.strip()[-800:], "input:  " + single.decode()[:1500]],
                            {"case.json": single}, portico.command_line(args, EVERYTHING))
                continue
            try:
                b = schema.new(BATCH)
                b.ParseFromString(out)
                got = b.items[0]
            except Exception as e:
                report.fail("case %d [%s] json->binary: python cannot parse portico's output: %s" % (base + i, name, e),
                            ["input: " + single.decode()[:1500], "output (hex): " + out.hex()[:400]],
                            {"case.json": single}, portico.command_line(args, EVERYTHING))
                continue
        diff = first_difference(canon(schema, got), canon(schema, m))
        if diff:
            single = json.dumps(dicts[i], **dumpkw).encode("utf-8")
            report.fail("case %d [%s] json->binary gives a different message" % (base + i, name),
                        ["first difference (portico vs original): " + diff, "input: " + single.decode()[:1500]],
                        {"case.json": single}, portico.command_line(args, EVERYTHING))
        else:
            report.ok()


def check_python_parses(schema, msgs, base, portico_json, opt, report):
    name = opt[0]
    for i, m in enumerate(msgs):
        raw = portico_json[i]
        if raw is None:
            continue  # already reported in direction a
        text = json.dumps(raw, ensure_ascii=False)
        try:
            got = json_format.ParseDict(raw, schema.new(EVERYTHING), descriptor_pool=schema.pool)
        except Exception as e:
            report.fail("case %d [%s] python cannot parse portico's JSON: %s" % (base + i, name, str(e)[:300]),
                        ["portico: " + text[:1500]], {"portico.json": text.encode("utf-8")})
            continue
        diff = first_difference(canon(schema, got), canon(schema, m))
        if diff:
            report.fail("case %d [%s] portico JSON parsed by python differs from the original" % (base + i, name),
                        ["first difference: " + diff, "portico: " + text[:1500]],
                        {"portico.json": text.encode("utf-8")})
        else:
            report.ok()


# ----------------------------------------------------------------------------------------------
# Hand-written documents: accept/reject agreement. Each row is (message, JSON text, expectation,
# why). Expectation "python" means "do what python's json_format.Parse does"; "accept"/"reject"
# override python where it departs from the proto3 JSON spec; "either" only demands no crash and
# the error contract. Flags (4th element, optional) are extra CLI flags.
E = EVERYTHING
AGREEMENT = [
    # malformed JSON
    (E, "{", "python", ""),
    (E, "", "python", "empty input"),
    (E, '{"scalars": {}} x', "python", "trailing garbage"),
    (E, '{"scalars": {},}', "python", "trailing comma"),
    (E, "{'scalars': {}}", "python", "single quotes"),
    (E, '{"scalars": {"fInt32": 01}}', "python", "leading zero"),
    (E, '{"scalars": {"fString": "\\x"}}', "python", "bad escape"),
    (E, '{"scalars": {"fString": "a\tb"}}', "python", "raw control character in a string"),
    (E, '{"scalars": {"fString": "\\ud800"}}', "python", "unpaired surrogate escape"),
    (E, '{"scalars": {"fString": "\\udc00\\ud800"}}', "python", "reversed surrogates"),
    (E, b'{"scalars": {"fString": "\xff"}}', "python", "invalid UTF-8"),
    (E, b'{"scalars": {"fString": "\xc0\xaf"}}', "python", "overlong UTF-8"),
    (E, b'{"scalars": {"fString": "\xed\xa0\x80"}}', "python", "UTF-8 encoded surrogate"),
    (E, '{"scalars": {"fDouble": NaN}}', "python", "bare NaN is not JSON"),
    (E, '{"scalars": {"fDouble": Infinity}}', "python", "bare Infinity is not JSON"),
    (E, '{"scalars": {"fString": "\\ud83d\\ude00 \\u00e9 \\u0000"}}', "python", "escapes"),
    (E, '  {"scalars"  :\n{ "fInt32" :\t1 } }  \n', "python", "whitespace everywhere"),
    # top level
    (E, "[]", "reject", "python iterates the empty list as an object with no keys"),
    (E, "[1]", "python", ""),
    (E, '"x"', "python", ""),
    (E, "1", "python", ""),
    (E, "null", "either", "python raises TypeError; the spec does not say"),
    (E, "{}", "python", ""),
    # field names
    (E, '{"nope": 1}', "python", "unknown field"),
    (E, '{"nope": 1, "scalars": {"fInt32": 2}}', "python", "unknown field ignored", ["--ignore-unknown"]),
    (E, '{"nope": {"a": [1, {"b": null}]}}', "python", "unknown field ignored", ["--ignore-unknown"]),
    (E, '{"snake_case_name": "x"}', "python", "proto name"),
    (E, '{"snakeCaseName": "x"}', "python", "json name"),
    (E, '{"renamed_Field": 1}', "python", "json_name option"),
    (E, '{"custom_json": 1}', "python", "proto name of a json_name field"),
    (E, '{"customJson": 1}', "python", "neither the json_name nor the proto name"),
    (E, '{"fieldWith1Digit": 1, "field_with_1_digit": 2}', "reject",
     "one field under both its names (python only compares names; the conformance suite expects failure)"),
    (E, '{"scalars": {}, "scalars": {}}', "python", "duplicate key"),
    (E, '{"SnakeCaseName": "x"}', "python", "names are case sensitive"),
    # integers
    (E, '{"scalars": {"fInt32": 1.5}}', "python", ""),
    (E, '{"scalars": {"fInt32": 1e2}}', "python", "exponent notation"),
    (E, '{"scalars": {"fInt32": 1.0}}', "python", ""),
    (E, '{"scalars": {"fInt32": -0}}', "python", ""),
    (E, '{"scalars": {"fInt32": 1e-2}}', "python", ""),
    (E, '{"scalars": {"fInt32": 2147483647, "fSint32": -2147483648}}', "python", ""),
    (E, '{"scalars": {"fInt32": 2147483648}}', "python", ""),
    (E, '{"scalars": {"fInt32": -2147483649}}', "python", ""),
    (E, '{"scalars": {"fUint32": 4294967295, "fFixed32": 4294967295}}', "python", ""),
    (E, '{"scalars": {"fUint32": -1}}', "python", ""),
    (E, '{"scalars": {"fFixed32": 4294967296}}', "python", ""),
    (E, '{"scalars": {"fInt32": "2147483647"}}', "python", "quoted int32"),
    (E, '{"scalars": {"fInt32": "0x10"}}', "python", ""),
    (E, '{"scalars": {"fInt32": " 1"}}', "python", ""),
    (E, '{"scalars": {"fInt32": "1_0"}}', "reject", "python's int() accepts digit separators"),
    (E, '{"scalars": {"fInt32": "+5"}}', "either", "python's int() accepts a plus sign"),
    (E, '{"scalars": {"fInt32": "1e2"}}', "either", "quoted exponent: python rejects, C++ accepts"),
    (E, '{"scalars": {"fInt32": "1.0"}}', "either", "quoted fraction: python rejects, C++ accepts"),
    (E, '{"scalars": {"fInt32": true}}', "python", ""),
    (E, '{"scalars": {"fInt32": [1]}}', "python", ""),
    (E, '{"scalars": {"fInt32": {}}}', "python", ""),
    (E, '{"scalars": {"fInt64": 9223372036854775807}}', "python", "int64 max as a number must stay exact"),
    (E, '{"scalars": {"fInt64": -9223372036854775808}}', "python", ""),
    (E, '{"scalars": {"fInt64": "9223372036854775807", "fSfixed64": "-9223372036854775808"}}', "python", ""),
    (E, '{"scalars": {"fInt64": "9223372036854775808"}}', "python", ""),
    (E, '{"scalars": {"fInt64": -9223372036854775809}}', "python", ""),
    (E, '{"scalars": {"fUint64": 18446744073709551615}}', "python", ""),
    (E, '{"scalars": {"fUint64": "18446744073709551615", "fFixed64": "0"}}', "python", ""),
    (E, '{"scalars": {"fUint64": "18446744073709551616"}}', "python", ""),
    (E, '{"scalars": {"fUint64": "-1"}}', "python", ""),
    (E, '{"scalars": {"fUint64": 1e20}}', "python", ""),
    (E, '{"scalars": {"fInt64": 1.0}}', "python", ""),
    (E, '{"scalars": {"fInt64": 1e18}}', "python", ""),
    (E, '{"scalars": {"fInt64": 1.5}}', "python", ""),
    (E, '{"scalars": {"fInt64": 9007199254740993}}', "python", "2^53+1 must not go through a double"),
    (E, '{"scalars": {"fInt64": ""}}', "python", ""),
    # floating point
    (E, '{"scalars": {"fDouble": 1.7976931348623157e308, "fFloat": 3.4028234663852886e38}}', "python", ""),
    (E, '{"scalars": {"fDouble": 5e-324, "fFloat": 1.4e-45}}', "python", ""),
    (E, '{"scalars": {"fDouble": 1e400}}', "python", "overflow"),
    (E, '{"scalars": {"fFloat": 1e39}}', "python", "float overflow"),
    (E, '{"scalars": {"fFloat": -1e39}}', "python", "float overflow"),
    (E, '{"scalars": {"fFloat": 3.4028236e38}}', "either", "rounds to FLT_MAX; python rejects"),
    (E, '{"scalars": {"fDouble": "NaN", "fFloat": "-Infinity"}}', "python", ""),
    (E, '{"scalars": {"fDouble": "Infinity"}}', "python", ""),
    (E, '{"scalars": {"fDouble": "nan"}}', "python", ""),
    (E, '{"scalars": {"fDouble": "inf"}}', "reject", "python's float() accepts 'inf'"),
    (E, '{"scalars": {"fDouble": "-infinity"}}', "reject", "python's float() accepts it"),
    (E, '{"scalars": {"fDouble": "1_0"}}', "reject", "python's float() accepts digit separators"),
    (E, '{"scalars": {"fDouble": " 1.5"}}', "reject", "python's float() strips spaces"),
    (E, '{"scalars": {"fDouble": "1.5"}}', "python", "quoted double"),
    (E, '{"scalars": {"fDouble": "1e400"}}', "either", "python's float() gives inf"),
    (E, '{"scalars": {"fDouble": "-0"}}', "python", ""),
    (E, '{"scalars": {"fDouble": -0.0}}', "python", ""),
    (E, '{"scalars": {"fDouble": ""}}', "python", ""),
    (E, '{"scalars": {"fDouble": true}}', "reject", "python's float() takes True as 1.0"),
    (E, '{"scalars": {"fDouble": 0.1, "fFloat": 0.1}}', "python", ""),
    # bool, string, bytes
    (E, '{"scalars": {"fBool": "true"}}', "python", ""),
    (E, '{"scalars": {"fBool": 1}}', "python", ""),
    (E, '{"scalars": {"fBool": false}}', "python", ""),
    (E, '{"scalars": {"fString": 5}}', "python", ""),
    (E, '{"scalars": {"fString": null}}', "python", "null is the default"),
    (E, '{"scalars": {"fBytes": "YQ=="}}', "python", ""),
    (E, '{"scalars": {"fBytes": "YQ"}}', "python", "unpadded"),
    (E, '{"scalars": {"fBytes": "-_8="}}', "python", "URL-safe alphabet"),
    (E, '{"scalars": {"fBytes": "+/8="}}', "python", "standard alphabet"),
    (E, '{"scalars": {"fBytes": ""}}', "python", ""),
    (E, '{"scalars": {"fBytes": 5}}', "python", ""),
    (E, '{"scalars": {"fBytes": "Y"}}', "python", "one leftover character"),
    (E, '{"scalars": {"fBytes": "!!!!"}}', "either", "python's decoder skips characters outside the alphabet"),
    # enums
    (E, '{"scalars": {"fEnum": "RED"}}', "python", ""),
    (E, '{"scalars": {"fEnum": "PURPLE"}}', "python", "unknown enum name"),
    (E, '{"scalars": {"fEnum": "PURPLE"}}', "accept", "ignore_unknown skips unknown enum names (python 4.21 does not)",
     ["--ignore-unknown"]),
    (E, '{"scalars": {"fEnum": "red"}}', "python", ""),
    (E, '{"scalars": {"fEnum": 2}}', "python", ""),
    (E, '{"scalars": {"fEnum": -1}}', "python", ""),
    (E, '{"scalars": {"fEnum": 99}}', "python", "open enum keeps unknown numbers"),
    (E, '{"scalars": {"fEnum": 1.5}}', "reject", "python's int() truncates 1.5"),
    (E, '{"scalars": {"fEnum": true}}', "reject", "python's int() takes True as 1"),
    (E, '{"scalars": {"fEnum": "1"}}', "either", "python accepts numeric strings for enums"),
    (E, '{"scalars": {"fEnum": null}}', "python", ""),
    (E, '{"repeated": {"rEnum": ["RED", 2, "NEGATIVE", 77]}}', "python", ""),
    # repeated
    (E, '{"repeated": {"rInt32": [1, null]}}', "python", ""),
    (E, '{"repeated": {"rInt32": 1}}', "python", ""),
    (E, '{"repeated": {"rInt32": null}}', "python", ""),
    (E, '{"repeated": {"rNested": [null]}}', "python", ""),
    (E, '{"repeated": {"rNested": [{}, {"a": 1}]}}', "python", ""),
    (E, '{"repeated": {"rInt32": [1, 2.0, "3", -4], "rUnpacked": [5, 6]}}', "python", ""),
    (E, '{"repeated": {"rString": ["a", 1]}}', "python", ""),
    (E, '{"repeated": {"rInt32": [[1]]}}', "python", ""),
    # maps
    (E, '{"maps": {"mInt32": {"x": 1}}}', "python", ""),
    (E, '{"maps": {"mInt32": {"-2147483648": 1, "2147483647": -1}}}', "python", ""),
    (E, '{"maps": {"mInt32": {"2147483648": 1}}}', "python", ""),
    (E, '{"maps": {"mUint32": {"-1": 1}}}', "python", ""),
    (E, '{"maps": {"mInt64": {"-9223372036854775808": "1"}}}', "python", ""),
    (E, '{"maps": {"mUint64": {"18446744073709551615": 2}}}', "python", ""),
    (E, '{"maps": {"mBool": {"true": true, "false": false}}}', "python", ""),
    (E, '{"maps": {"mBool": {"1": true}}}', "python", ""),
    (E, '{"maps": {"mBool": {"True": true}}}', "python", ""),
    (E, '{"maps": {"mString": []}}', "python", ""),
    (E, '{"maps": {"mString": {"a": null}}}', "python", ""),
    (E, '{"maps": {"mString": {"a": 1}}}', "python", ""),
    (E, '{"maps": {"mNested": {"a": {}, "b": {"a": 1}}}}', "python", ""),
    (E, '{"maps": {"mNested": {"a": null}}}', "either", "null map value"),
    (E, '{"maps": {"mValue": {"a": null, "b": [1, "x"], "c": {}}}}', "python", ""),
    (E, '{"maps": {"mEnum": {"a": "BLUE", "b": 5}}}', "python", ""),
    (E, '{"maps": {"mDouble": {"a": "NaN", "b": -0.0, "c": 1e-300}}}', "python", ""),
    (E, '{"maps": {"mInt32": {"1": 1, "01": 2}}}', "either", "leading zero in an integer key"),
    (E, '{"maps": {"mInt32": {"1": 1}, "mInt32": {}}}', "python", "duplicate map field"),
    (E, '{"maps": {"mString": {"a": "1", "a": "2"}}}', "python", "duplicate map key"),
    (E, '{"maps": null}', "python", ""),
    # oneof, optional, null
    (E, '{"choiceString": "a", "choiceInt": 1}', "python", "two members of a oneof"),
    (E, '{"choiceString": null, "choiceInt": 1}', "python", "null member does not count"),
    (E, '{"choiceNull": null}', "python", "NullValue member is set by null"),
    (E, '{"choiceNull": "NULL_VALUE"}', "python", ""),
    (E, '{"choiceNull": 0}', "python", ""),
    (E, '{"choiceNested": {}}', "python", ""),
    (E, '{"choiceInt": 0}', "python", ""),
    (E, '{"optInt32": 0, "optString": "", "optEnum": "COLOR_UNSPECIFIED"}', "python", "explicit presence"),
    (E, '{"optInt32": null}', "python", ""),
    (E, '{"scalars": null, "nested": null, "wellKnown": null}', "python", ""),
    # well-known types
    (E, '{"wellKnown": {"timestamp": "1970-01-01T00:00:00Z"}}', "python", ""),
    (E, '{"wellKnown": {"timestamp": "0001-01-01T00:00:00Z"}}', "python", ""),
    (E, '{"wellKnown": {"timestamp": "9999-12-31T23:59:59.999999999Z"}}', "python", ""),
    (E, '{"wellKnown": {"timestamp": "1970-01-01T00:00:00.1Z"}}', "python", ""),
    (E, '{"wellKnown": {"timestamp": "1970-01-01T00:00:00+01:00"}}', "python", ""),
    (E, '{"wellKnown": {"timestamp": "1970-01-01T00:00:00-08:30"}}', "python", ""),
    (E, '{"wellKnown": {"timestamp": "2020-13-01T00:00:00Z"}}', "python", ""),
    (E, '{"wellKnown": {"timestamp": "2021-02-29T00:00:00Z"}}', "python", ""),
    (E, '{"wellKnown": {"timestamp": "2020-01-01T24:00:00Z"}}', "python", ""),
    (E, '{"wellKnown": {"timestamp": "10000-01-01T00:00:00Z"}}', "python", ""),
    (E, '{"wellKnown": {"timestamp": "0000-01-01T00:00:00Z"}}', "python", ""),
    (E, '{"wellKnown": {"timestamp": "1970-01-01T00:00:00"}}', "python", "no zone"),
    (E, '{"wellKnown": {"timestamp": "1970-01-01t00:00:00Z"}}', "python", "lowercase t"),
    (E, '{"wellKnown": {"timestamp": "1970-01-01T00:00:00.1234567891Z"}}', "python", "10 fraction digits"),
    (E, '{"wellKnown": {"timestamp": 0}}', "python", ""),
    (E, '{"wellKnown": {"timestamp": {"seconds": 1}}}', "either", ""),
    (E, '{"wellKnown": {"duration": "1.5s"}}', "python", ""),
    (E, '{"wellKnown": {"duration": "-0.5s"}}', "python", ""),
    (E, '{"wellKnown": {"duration": "315576000000.999999999s"}}', "python", ""),
    (E, '{"wellKnown": {"duration": "315576000001s"}}', "python", ""),
    (E, '{"wellKnown": {"duration": "1"}}', "python", ""),
    (E, '{"wellKnown": {"duration": "1.0000000001s"}}', "reject", "python drops the 10th fraction digit"),
    (E, '{"wellKnown": {"duration": "s"}}', "python", ""),
    (E, '{"wellKnown": {"duration": 1}}', "python", ""),
    (E, '{"wellKnown": {"fieldMask": "a,fooBar.bazQux"}}', "python", ""),
    (E, '{"wellKnown": {"fieldMask": ""}}', "python", ""),
    (E, '{"wellKnown": {"fieldMask": "foo_bar"}}', "python", "underscore in a JSON field mask"),
    (E, '{"wellKnown": {"fieldMask": ["a"]}}', "python", ""),
    (E, '{"wellKnown": {"struct": {"a": [1, {"b": null}], "c": "d"}}}', "python", ""),
    (E, '{"wellKnown": {"struct": []}}', "python", ""),
    (E, '{"wellKnown": {"struct": 1}}', "python", ""),
    (E, '{"wellKnown": {"listValue": {}}}', "python", ""),
    (E, '{"wellKnown": {"listValue": [1, "a", null, true, [], {}]}}', "python", ""),
    (E, '{"wellKnown": {"value": null}}', "python", "null Value is NULL_VALUE"),
    (E, '{"wellKnown": {"value": 1e308}}', "python", ""),
    (E, '{"wellKnown": {"value": "NaN"}}', "python", "a string, not a number"),
    (E, '{"wellKnown": {"rValue": [null, 1, "a", [], {}]}}', "python", ""),
    (E, '{"wellKnown": {"nullValue": null}}', "python", ""),
    (E, '{"wellKnown": {"nullValue": "NULL_VALUE"}}', "python", ""),
    (E, '{"wellKnown": {"empty": {}}}', "python", ""),
    (E, '{"wellKnown": {"empty": {"a": 1}}}', "python", ""),
    (E, '{"wellKnown": {"int32Value": 5, "stringValue": "x", "bytesValue": "AA==", "boolValue": false}}', "python", ""),
    (E, '{"wellKnown": {"int64Value": "5", "uint64Value": 5}}', "python", ""),
    (E, '{"wellKnown": {"int32Value": null}}', "python", ""),
    (E, '{"wellKnown": {"int32Value": {"value": 5}}}', "python", "wrappers are bare values"),
    (E, '{"wellKnown": {"floatValue": "Infinity", "doubleValue": "NaN"}}', "python", ""),
    (E, '{"wellKnown": {"rInt32Value": [1, 2]}}', "python", ""),
    (E, '{"wellKnown": {"rTimestamp": ["1970-01-01T00:00:00Z", null]}}', "python", ""),
    (E, '{"wellKnown": {"any": {}}}', "python", "empty Any"),
    (E, '{"wellKnown": {"any": {"value": 1}}}', "python", "Any without @type"),
    (E, '{"wellKnown": {"any": {"@type": "type.googleapis.com/no.Such"}}}', "python", ""),
    (E, '{"wellKnown": {"any": {"@type": "type.googleapis.com/portico.test.Small", "sku": "a"}}}', "python", ""),
    (E, '{"wellKnown": {"any": {"sku": "a", "@type": "type.googleapis.com/portico.test.Small"}}}', "python",
     "@type after the fields"),
    (E, '{"wellKnown": {"any": {"@type": "type.googleapis.com/portico.test.Small", "nope": 1}}}', "python", ""),
    (E, '{"wellKnown": {"any": {"@type": "type.googleapis.com/google.protobuf.Timestamp", '
        '"value": "1970-01-01T00:00:01Z"}}}', "python", ""),
    (E, '{"wellKnown": {"any": {"@type": "type.googleapis.com/google.protobuf.Timestamp"}}}', "either",
     "WKT in Any without value"),
    (E, '{"wellKnown": {"any": {"@type": "type.googleapis.com/google.protobuf.Value"}}}', "python",
     "a Value needs a kind; without \"value\" there is none"),
    (E, '{"wellKnown": {"any": {"@type": "type.googleapis.com/google.protobuf.Value", "value": {"a": [1]}}}}',
     "python", ""),
    (E, '{"wellKnown": {"any": {"@type": "type.googleapis.com/google.protobuf.Int32Value", "value": 7}}}', "python",
     ""),
    (E, '{"wellKnown": {"any": {"@type": "type.googleapis.com/google.protobuf.Any", "value": '
        '{"@type": "type.googleapis.com/portico.test.Small", "quantity": 3}}}}', "python", "Any in Any"),
    (E, '{"wellKnown": {"any": {"@type": "x/portico.test.Nested", "a": 1}}}', "python", "any URL prefix"),
    (E, '{"wellKnown": {"any": {"@type": 5}}}', "python", ""),
    (E, '{"wellKnown": {"any": []}}', "python", ""),
    # other messages
    ("portico.test.Small", '{"sku": "a", "amountMicros": "-5", "updatedAt": "2000-02-29T12:00:00.5Z", '
                           '"color": "GREEN", "tags": ["x", ""]}', "python", ""),
    ("portico.test.Nested", '{"a": 1, "child": {"child": {"b": "deep"}}}', "python", ""),
]


def deep_nested(levels):
    doc = '{"a": 1}'
    for _ in range(levels):
        doc = '{"child": %s}' % doc
    return doc


def deep_struct(levels):
    return '{"wellKnown": {"value": %s}}' % ("[" * levels + "]" * levels)


# Nesting: both must take moderately deep documents and refuse absurd ones. The exact limit
# is not compared (python counts messages, portico counts JSON nesting).
AGREEMENT += [
    ("portico.test.Nested", deep_nested(40), "python", "40 nested messages"),
    ("portico.test.Nested", deep_nested(5000), "reject", "5000 nested messages"),
    (E, deep_struct(30), "accept", "30 nested lists in a Value"),
    (E, deep_struct(100000), "reject", "100000 nested lists in a Value"),
]


def python_parse(schema, message, text, flags):
    try:
        m = json_format.Parse(text, schema.new(message), ignore_unknown_fields="--ignore-unknown" in flags,
                              descriptor_pool=schema.pool)
        return m, None
    except RecursionError:
        return None, "RecursionError"
    except Exception as e:
        return None, "%s: %s" % (type(e).__name__, str(e).splitlines()[0][:200] if str(e) else "")


def check_agreement(schema, portico, report):
    for row in AGREEMENT:
        message, text, expect, why = row[:4]
        flags = row[4] if len(row) > 4 else []
        data = text if isinstance(text, bytes) else text.encode("utf-8")
        shown = data.decode("utf-8", "backslashreplace")
        shown = shown if len(shown) < 300 else shown[:300] + "... (%d bytes)" % len(data)
        py_msg, py_err = python_parse(schema, message, data, flags)
        if expect == "python":
            want = "accept" if py_msg is not None else "reject"
        else:
            want = expect
        args = ["--from", "json", "--to", "binary"] + flags
        rc, out, err = portico.run(args, data, message=message)
        title = "%s %s%s" % (message.split(".")[-1], shown, (" " + " ".join(flags)) if flags else "")
        saved = {"input.json": data}
        repro = portico.command_line(args, message)
        if rc >= 128 or rc < 0:
            report.fail("agreement: portico crashed on " + title, ["exit %d" % rc, err.strip()[-800:]],
                        saved, repro)
            continue
        if rc == 0:
            if want == "reject":
                report.fail("agreement: portico accepts what it should reject: " + title,
                            ["python: " + (py_err or "accepts") + ("" if expect == "python" else " (" + why + ")"),
                             "portico output (hex): " + out.hex()[:200]], saved, repro)
                continue
            if py_msg is not None:
                try:
                    got = schema.new(message)
                    got.ParseFromString(out)
                    diff = first_difference(canon(schema, got), canon(schema, py_msg))
                except Exception as e:
                    diff = "python cannot parse portico's output: %s" % e
                if diff:
                    report.fail("agreement: portico and python parse to different messages: " + title,
                                ["first difference (portico vs python): " + diff,
                                 "portico output (hex): " + out.hex()[:200]], saved, repro)
                    continue
            report.ok()
            continue
        shape = error_shape(rc, out, err)
        if shape:
            report.fail("agreement: bad error report for " + title, [shape], saved, repro)
        elif want == "accept":
            report.fail("agreement: portico rejects what it should accept: " + title,
                        ["portico: " + err.strip(), "python: " + ("accepts" if py_msg is not None else py_err) +
                         ("" if expect == "python" else " (" + why + ")")], saved, repro)
        else:
            report.ok()


# ----------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--portico", default=os.environ.get("PORTICO_BIN"), help="the portico binary ($PORTICO_BIN)")
    ap.add_argument("--desc", default=os.path.join(os.environ.get("PORTICO_DESC_DIR", "."), "codec_test.pb"),
                    help="codec_test.pb ($PORTICO_DESC_DIR/codec_test.pb)")
    ap.add_argument("-n", type=int, default=300, help="random messages (default 300)")
    ap.add_argument("--seed", default=os.environ.get("PORTICO_DIFF_SEED", "20240601"),
                    help="random seed, or 'random' ($PORTICO_DIFF_SEED; default fixed so CI is reproducible)")
    ap.add_argument("--show", type=int, default=8, help="mismatches to print in full (default 8)")
    ap.add_argument("--keep", default=None, help="directory for the inputs of shown mismatches")
    ap.add_argument("--batch", type=int, default=100, help="messages per CLI call (default 100)")
    ap.add_argument("--no-table", action="store_true", help="skip the hand-written agreement table")
    a = ap.parse_args()
    if not a.portico:
        ap.error("no portico binary: pass --portico or set PORTICO_BIN")
    seed = random.randrange(2**32) if a.seed == "random" else int(a.seed)
    print("differential: seed %d, %d messages, %s, python protobuf %s" % (
        seed, a.n, a.desc, __import__("google.protobuf").protobuf.__version__))
    sys.setrecursionlimit(20000)

    schema = Schema(a.desc)
    tmp = tempfile.TemporaryDirectory(prefix="portico-diff-")
    batch_desc = os.path.join(tmp.name, "batch.pb")
    schema.write_batch_set(batch_desc)
    portico = Portico(a.portico, batch_desc, a.desc)
    keep = a.keep or os.path.join(os.environ.get("PORTICO_BUILD_DIR", tempfile.gettempdir()), "diff-failures")
    if os.path.isdir(keep):
        for old in os.listdir(keep):
            os.unlink(os.path.join(keep, old))
    report = Report(a.show, keep)

    gen = Gen(schema, random.Random(seed))
    msgs = [schema.new(EVERYTHING)] + [gen.everything() for _ in range(a.n - 1)] if a.n > 0 else []
    for start in range(0, len(msgs), a.batch):
        chunk = msgs[start:start + a.batch]
        for opt in OPTION_SETS:
            pj = check_binary_to_json(schema, portico, chunk, start, opt, report)
            check_json_to_binary(schema, portico, chunk, start, opt, report)
            check_python_parses(schema, chunk, start, pj, opt, report)
    if not a.no_table:
        check_agreement(schema, portico, report)
    if report.failed > report.show:
        print("(%d more mismatches not shown; rerun with --show N)" % (report.failed - report.show))
    print("%d CLI calls" % portico.calls)
    print("%d passed, %d failed" % (report.passed, report.failed))
    return 0 if report.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
