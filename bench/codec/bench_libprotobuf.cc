// bench_libprotobuf.cc — the peer of bench_portico.c: Google's C++ protobuf (libprotobuf 3.21,
// libprotobuf-dev) converting the same messages between wire bytes and JSON, over a
// DynamicMessageFactory built from the same descriptor set portico loads.
//
// It also makes the benchmark inputs and checks portico's output, so both programs are seen to
// do the same job before anything is timed (bench/codec/run.sh drives it):
//   gen   SET.pb OUTDIR                       write small.{pb,json} (portico.test.Small, ~100 B) and
//                                             large.{pb,json} (portico.test.Everything, ~50 KB)
//   check SET.pb MESSAGE IN.pb P.json P.pb    P.json/P.pb are portico's conversions of IN.pb and of
//                                             IN's libprotobuf JSON: both must equal IN's message
//   time  SET.pb MESSAGE p2j|j2p INPUT API MIN_MS [ITERS]
//                                             API "stream" = util::BinaryToJsonString/JsonToBinaryString
//                                             (wire <-> JSON directly, libprotobuf's fastest path);
//                                             "message" = ParseFromString + MessageToJsonString and
//                                             JsonStringToMessage + SerializeToString.
//                                             Prints "ITERATIONS NANOSECONDS". With ITERS it runs exactly
//                                             that many in bench_loop() (for callgrind's --toggle-collect).
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <google/protobuf/util/type_resolver.h>
#include <google/protobuf/util/type_resolver_util.h>

namespace pb = google::protobuf;

namespace
{

[[noreturn]] void die(const std::string &msg)
{
    std::fprintf(stderr, "error: %s\n", msg.c_str());
    std::exit(1);
}

std::string read_file(const std::string &path)
{
    std::ifstream f(path, std::ios::binary);
    if (!f)
        die("cannot read " + path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

void write_file(const std::string &path, const std::string &data)
{
    std::ofstream f(path, std::ios::binary);
    if (!f.write(data.data(), static_cast<std::streamsize>(data.size())))
        die("cannot write " + path);
}

struct Schema {
    pb::DescriptorPool pool;
    pb::DynamicMessageFactory factory{&pool};
    std::unique_ptr<pb::util::TypeResolver> resolver;

    explicit Schema(const std::string &set_path)
    {
        pb::FileDescriptorSet set;
        if (!set.ParseFromString(read_file(set_path)))
            die(set_path + " is not a descriptor set");
        for (const auto &f : set.file())
            if (pool.BuildFile(f) == nullptr)
                die("cannot build " + f.name() + " from " + set_path);
        resolver.reset(pb::util::NewTypeResolverForDescriptorPool("type.googleapis.com", &pool));
    }

    std::unique_ptr<pb::Message> make(const std::string &name)
    {
        const pb::Descriptor *d = pool.FindMessageTypeByName(name);
        if (d == nullptr)
            die("no message " + name);
        return std::unique_ptr<pb::Message>(factory.GetPrototype(d)->New());
    }
};

std::string to_json(const pb::Message &m)
{
    std::string out;
    auto st = pb::util::MessageToJsonString(m, &out);
    if (!st.ok())
        die("MessageToJsonString: " + st.ToString());
    return out;
}

void from_json(const std::string &json, pb::Message *m, const std::string &what)
{
    auto st = pb::util::JsonStringToMessage(json, m);
    if (!st.ok())
        die("libprotobuf cannot parse " + what + ": " + st.ToString());
}

// --- inputs ------------------------------------------------------------------------------------

std::string small_json()
{
    return R"({"sku":"SKU-12345-ABCDEFG","amountMicros":"1990000","currency":"EUR","quantity":3,)"
           R"("tags":["sale","new","limited"],"updatedAt":"2024-05-17T10:30:00.123Z","color":"GREEN"})";
}

// A deterministic ~50 KB (wire size) Everything: long repeated fields, maps of every common key
// type, nested messages, and the well-known types, so both directions meet every code path.
std::string large_json()
{
    std::ostringstream j;
    auto list = [&](const char *name, int n, auto item) {
        j << '"' << name << "\":[";
        for (int i = 0; i < n; i++)
            j << (i ? "," : "") << item(i);
        j << ']';
    };
    auto str = [](const std::string &s) { return '"' + s + '"'; };
    j << R"({"scalars":{"fDouble":3.14159,"fFloat":2.5,"fInt64":"-1234567890123","fUint64":"18446744073709551615",)"
      << R"("fInt32":-42,"fFixed64":"99","fFixed32":7,"fBool":true,"fString":"h\u00e9llo w\u00f6rld","fBytes":"AAECAwQF",)"
      << R"("fUint32":4000000000,"fEnum":"BLUE","fSfixed32":-5,"fSfixed64":"-6","fSint32":-7,"fSint64":"-8"},)";
    j << "\"repeated\":{";
    list("rDouble", 500, [](int i) { return std::to_string(i * 1.25 + 0.1); });
    j << ',';
    list("rInt64", 500, [&](int i) { return str(std::to_string(i * 1000003LL - 150000000LL)); });
    j << ',';
    list("rInt32", 500, [](int i) { return std::to_string(i * 7919 - 1000000); });
    j << ',';
    list("rString", 250, [&](int i) { return str("item-" + std::to_string(i) + "-description text"); });
    j << ',';
    list("rBool", 100, [](int i) { return std::string(i % 3 ? "true" : "false"); });
    j << ',';
    list("rEnum", 100, [&](int i) { return str(i % 2 ? "RED" : "GREEN"); });
    j << ',';
    list("rNested", 300, [&](int i) {
        return "{\"a\":" + std::to_string(i) + ",\"b\":" + str("nested #" + std::to_string(i)) + ",\"nums\":[1,2,3," +
               std::to_string(i) + "],\"child\":{\"a\":" + std::to_string(-i) + "}}";
    });
    j << "},\"maps\":{\"mString\":{";
    for (int i = 0; i < 250; i++)
        j << (i ? "," : "") << str("key" + std::to_string(i)) << ':' << str("value number " + std::to_string(i));
    j << "},\"mInt32\":{";
    for (int i = 0; i < 250; i++)
        j << (i ? "," : "") << str(std::to_string(i * 31 - 2000)) << ':' << i;
    j << "},\"mInt64\":{";
    for (int i = 0; i < 200; i++)
        j << (i ? "," : "") << str(std::to_string(i * 1000000007LL)) << ':' << str(std::to_string(-i));
    j << "},\"mBool\":{\"true\":false,\"false\":true},\"mNested\":{";
    for (int i = 0; i < 100; i++)
        j << (i ? "," : "") << str("n" + std::to_string(i)) << ":{\"a\":" << i << ",\"b\":\"x\"}";
    j << "},\"mDouble\":{";
    for (int i = 0; i < 60; i++)
        j << (i ? "," : "") << str("d" + std::to_string(i)) << ':' << (i * 0.5 - 3);
    j << "}},\"wellKnown\":{\"any\":{\"@type\":\"type.googleapis.com/portico.test.Small\"," << small_json().substr(1)
      << R"(,"timestamp":"2024-05-17T10:30:00.123456789Z","duration":"-3600.5s","fieldMask":"scalars.fInt32,maps",)"
      << "\"struct\":{";
    for (int i = 0; i < 40; i++)
        j << (i ? "," : "") << str("field" + std::to_string(i)) << ':'
          << (i % 4 == 0   ? "null"
              : i % 4 == 1 ? "1.5"
              : i % 4 == 2 ? "\"text\""
                           : "[true,{\"k\":\"v\"}]");
    j << R"(},"int64Value":"77","stringValue":"wrapped","boolValue":true,)";
    list("rTimestamp", 60, [&](int i) { return str("2024-01-01T00:00:" + std::to_string(10 + i % 50) + "Z"); });
    j << ',';
    list("rAny", 40,
         [&](int i) { return "{\"@type\":\"type.googleapis.com/portico.test.Nested\",\"a\":" + std::to_string(i) + "}"; });
    j << ',';
    list("rValue", 60, [&](int i) { return i % 2 ? str("v" + std::to_string(i)) : std::to_string(i); });
    j << "},\"nested\":{\"a\":1,\"b\":\"top\",\"child\":{\"a\":2,\"child\":{\"a\":3,\"child\":{\"a\":4,"
         "\"child\":{\"a\":5,\"nums\":[5,4,3,2,1]}}}}},\"choiceString\":\"picked\",\"optInt32\":0,"
         "\"renamed_Field\":9,\"snakeCaseName\":\"snake\"}";
    return j.str();
}

void gen(Schema &s, const std::string &dir)
{
    struct {
        const char *name, *type;
        std::string json;
    } inputs[] = {{"small", "portico.test.Small", small_json()}, {"large", "portico.test.Everything", large_json()}};
    for (auto &in : inputs) {
        auto m = s.make(in.type);
        from_json(in.json, m.get(), std::string("the ") + in.name + " input");
        write_file(dir + "/" + in.name + ".pb", m->SerializeAsString());
        write_file(dir + "/" + in.name + ".json", to_json(*m));
    }
}

// --- check ---------------------------------------------------------------------------------------

void check(Schema &s, const std::string &type, const std::string &in_pb, const std::string &p_json, const std::string &p_pb)
{
    auto want = s.make(type);
    if (!want->ParseFromString(read_file(in_pb)))
        die("cannot parse " + in_pb);
    auto got = s.make(type);
    from_json(read_file(p_json), got.get(), "portico's JSON " + p_json);
    std::string diff;
    pb::util::MessageDifferencer d;
    d.ReportDifferencesToString(&diff);
    if (!d.Compare(*want, *got))
        die("portico's JSON " + p_json + " is not the message of " + in_pb + ":\n" + diff);
    auto got2 = s.make(type);
    if (!got2->ParseFromString(read_file(p_pb)))
        die("cannot parse portico's binary " + p_pb);
    diff.clear();
    pb::util::MessageDifferencer d2;
    d2.ReportDifferencesToString(&diff);
    if (!d2.Compare(*want, *got2))
        die("portico's binary " + p_pb + " is not the message of " + in_pb + ":\n" + diff);
}

// --- timing --------------------------------------------------------------------------------------

struct Job {
    Schema *s;
    const pb::Descriptor *desc;
    std::string url;
    bool to_json;
    bool stream;
    std::string input;
    std::string out;
    std::unique_ptr<pb::Message> msg;
};

void run_one(Job &j)
{
    j.out.clear();
    if (j.stream) {
        auto st = j.to_json ? pb::util::BinaryToJsonString(j.s->resolver.get(), j.url, j.input, &j.out)
                            : pb::util::JsonToBinaryString(j.s->resolver.get(), j.url, j.input, &j.out);
        if (!st.ok())
            die("conversion failed: " + st.ToString());
        return;
    }
    j.msg->Clear();
    if (j.to_json) {
        if (!j.msg->ParseFromString(j.input))
            die("ParseFromString failed");
        auto st = pb::util::MessageToJsonString(*j.msg, &j.out);
        if (!st.ok())
            die("MessageToJsonString: " + st.ToString());
    } else {
        auto st = pb::util::JsonStringToMessage(j.input, j.msg.get());
        if (!st.ok())
            die("JsonStringToMessage: " + st.ToString());
        j.msg->SerializeToString(&j.out);
    }
}

extern "C" __attribute__((noinline)) void bench_loop(Job *j, long n)
{
    for (long i = 0; i < n; i++)
        run_one(*j);
}

long long now_ns()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void time_it(Schema &s, const std::string &type, const std::string &dir, const std::string &input, const std::string &api,
             long min_ms, long iters)
{
    Job j;
    j.s = &s;
    j.desc = s.pool.FindMessageTypeByName(type);
    if (j.desc == nullptr)
        die("no message " + type);
    j.url = "type.googleapis.com/" + type;
    j.to_json = dir == "p2j";
    j.stream = api == "stream";
    j.input = read_file(input);
    j.msg = s.make(type);
    if (iters > 0) { // fixed count, for callgrind
        run_one(j);
        bench_loop(&j, iters);
        std::printf("%ld 0\n", iters);
        return;
    }
    long n = 1;
    long long t0 = now_ns();
    while (now_ns() - t0 < min_ms * 100000LL) // warm up for a tenth of the time
        bench_loop(&j, 1);
    long long start = now_ns(), elapsed = 0;
    long total = 0;
    while (elapsed < min_ms * 1000000LL) {
        bench_loop(&j, n);
        total += n;
        elapsed = now_ns() - start;
        if (n < (1 << 20))
            n *= 2;
    }
    std::printf("%ld %lld\n", total, elapsed);
}

} // namespace

int main(int argc, char **argv)
{
    std::string cmd = argc > 1 ? argv[1] : "";
    if (cmd == "gen" && argc == 4) {
        Schema s(argv[2]);
        gen(s, argv[3]);
    } else if (cmd == "check" && argc == 7) {
        Schema s(argv[2]);
        check(s, argv[3], argv[4], argv[5], argv[6]);
    } else if (cmd == "time" && (argc == 8 || argc == 9)) {
        Schema s(argv[2]);
        time_it(s, argv[3], argv[4], argv[5], argv[6], std::atol(argv[7]), argc == 9 ? std::atol(argv[8]) : 0);
    } else {
        std::fprintf(stderr, "usage: bench_libprotobuf gen SET.pb OUTDIR\n"
                             "       bench_libprotobuf check SET.pb MESSAGE IN.pb PORTICO.json PORTICO.pb\n"
                             "       bench_libprotobuf time SET.pb MESSAGE p2j|j2p INPUT stream|message MIN_MS [ITERS]\n");
        return 2;
    }
    return 0;
}
