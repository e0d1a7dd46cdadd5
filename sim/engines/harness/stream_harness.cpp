// Stream harness for the rtl engine (amaradar/sim/rtl_engine.py).
//
// Runs the Verilated top `Vdut` (the design inside a wrapper that registers all
// its inputs and ties its reset low, see rtl_engine._wrapper) cycle by cycle with
// no Python in the loop: from the design's initial state, applies constant input ports, feeds payload words from a binary
// file into the `i` stream honouring i__ready, collects every word accepted on
// the `o` stream into another binary file, and prints a JSON summary (cycles,
// word counts, why it stopped, final values of the status ports) on stdout.
// Words are little-endian, I_BYTES / O_BYTES bytes each. Progress goes to
// stderr as "progress <count>" lines.
//
// The design-specific part comes from the generated "harness_ports.h":
//   HARNESS_HAS_I                   0/1: whether there is an i stream
//   HARNESS_I_BYTES, HARNESS_O_BYTES, HARNESS_N_PORTS
//   HARNESS_SET_PORTS(top, values)  put() each constant input port
//   HARNESS_STATUS(top)             status() each plain output port
//
// usage: harness IN OUT P_IN_STALL P_OUT_STALL SEED DRAIN MAX_OUTPUTS MAX_CYCLES [PORT_HEX...]
// (IN is ignored without an i stream; 0 means "no limit" for MAX_*; PORT_HEX is
// the little-endian bytes of each port value as hex pairs).

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "verilated.h"
#include "Vdut.h"

// Verilator spells the "__" of Amaranth's flattened port names as "___05F".
#define I_PAYLOAD i___05Fpayload
#define I_VALID i___05Fvalid
#define I_READY i___05Fready
#define O_PAYLOAD o___05Fpayload
#define O_VALID o___05Fvalid
#define O_READY o___05Fready

template <typename T>
static inline void put(T& sig, const uint8_t* src, size_t n) {
    T value = 0;
    std::memcpy(&value, src, n);
    sig = value;
}

template <std::size_t W>
static inline void put(VlWide<W>& sig, const uint8_t* src, size_t n) {
    std::memset(sig.data(), 0, W * sizeof(EData));
    std::memcpy(sig.data(), src, n);
}

template <typename T>
static inline void get(const T& sig, uint8_t* dst, size_t n) {
    T value = sig;
    std::memcpy(dst, &value, n);
}

template <std::size_t W>
static inline void get(const VlWide<W>& sig, uint8_t* dst, size_t n) {
    std::memcpy(dst, sig.data(), n);
}

static bool first_status = true;

template <typename T>
static void status(const char* name, const T& sig, size_t n) {
    std::vector<uint8_t> bytes(n);
    get(sig, bytes.data(), n);
    std::printf("%s\"%s\": \"0x", first_status ? "" : ", ", name);
    for (size_t k = n; k-- > 0;) std::printf("%02x", bytes[k]);
    std::printf("\"");
    first_status = false;
}

#include "harness_ports.h"

namespace {

constexpr size_t kBlockWords = 1 << 16;
constexpr uint64_t kProgressMask = (1u << 18) - 1;

// splitmix64: one seeded stream of stall decisions.
struct Rng {
    uint64_t state;
    uint64_t next() {
        uint64_t z = (state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    // true with probability threshold / 2^64
    bool below(uint64_t threshold) { return threshold && next() < threshold; }
};

uint64_t threshold(const char* p) {
    double value = std::strtod(p, nullptr);
    return value <= 0.0 ? 0 : static_cast<uint64_t>(value * 18446744073709551616.0);
}

[[noreturn]] void fail(const char* what, const char* path) {
    std::fprintf(stderr, "harness: %s %s\n", what, path);
    std::exit(2);
}

// Buffered binary words: reading blocks from IN, writing blocks to OUT.
struct Words {
    FILE* file;
    size_t bytes;
    std::vector<uint8_t> buf;
    size_t count = 0, pos = 0;
    Words(FILE* f, size_t b) : file(f), bytes(b), buf(kBlockWords * b) {}
    const uint8_t* peek() {
        if (pos == count) {
            count = std::fread(buf.data(), bytes, kBlockWords, file);
            pos = 0;
            if (count == 0) return nullptr;
        }
        return &buf[pos * bytes];
    }
    uint8_t* slot() { return &buf[count * bytes]; }
    void commit() {
        if (++count == kBlockWords) flush();
    }
    void flush() {
        if (std::fwrite(buf.data(), bytes, count, file) != count) fail("cannot write", "outputs");
        count = 0;
    }
};

}  // namespace

int main(int argc, char** argv) {
    if (argc != 9 + HARNESS_N_PORTS) {
        std::fprintf(stderr, "harness: expected %d arguments, got %d\n", 8 + HARNESS_N_PORTS, argc - 1);
        return 2;
    }
    const uint64_t thr_in = threshold(argv[3]), thr_out = threshold(argv[4]);
    Rng rng{std::strtoull(argv[5], nullptr, 10)};
    const uint64_t drain = std::strtoull(argv[6], nullptr, 10);
    const uint64_t max_outputs = std::strtoull(argv[7], nullptr, 10);
    const uint64_t max_cycles = std::strtoull(argv[8], nullptr, 10);

    std::vector<std::vector<uint8_t>> port_values;
    for (int k = 9; k < argc; ++k) {
        std::vector<uint8_t> bytes(std::strlen(argv[k]) / 2);
        for (size_t b = 0; b < bytes.size(); ++b) {
            char pair[3] = {argv[k][2 * b], argv[k][2 * b + 1], 0};
            bytes[b] = static_cast<uint8_t>(std::strtoul(pair, nullptr, 16));
        }
        port_values.push_back(bytes);
    }

    FILE* out_file = std::fopen(argv[2], "wb");
    if (!out_file) fail("cannot open", argv[2]);
    Words out(out_file, HARNESS_O_BYTES);
#if HARNESS_HAS_I
    FILE* in_file = std::fopen(argv[1], "rb");
    if (!in_file) fail("cannot open", argv[1]);
    Words in(in_file, HARNESS_I_BYTES);
    bool presenting = false, exhausted = false;
#endif

    auto context = std::make_unique<VerilatedContext>();
    auto top = std::make_unique<Vdut>(context.get());
    // The wrapper registers every input on the clock edge, so inputs set before a
    // tick are what the design sees during the next cycle, and the design's logic
    // settles once per cycle (after the edge) instead of once more per input change.
    auto tick = [&top] {
        top->clk = 0;
        top->eval();
        top->clk = 1;
        top->eval();
    };
    HARNESS_SET_PORTS(top, port_values);
    top->O_READY = 0;
#if HARNESS_HAS_I
    top->I_VALID = 0;
#endif

    std::vector<uint8_t> held(HARNESS_O_BYTES), now(HARNESS_O_BYTES);
    bool waiting = false;  // o.valid was high and not accepted last cycle
    uint64_t cycles = 0, consumed = 0, produced = 0, idle = 0;
    uint64_t refused = 0;  // cycles with an input word offered and i.ready low
    const char* end = "idle";
    char protocol[160] = "";

    for (;;) {
        // Inputs for the next cycle: a new word unless one is still waiting.
        bool harness_stall = false;  // the harness, not the design, held input back
#if HARNESS_HAS_I
        if (!presenting && !exhausted) {
            const uint8_t* word = in.peek();
            if (!word) {
                exhausted = true;
            } else if (rng.below(thr_in)) {
                harness_stall = true;
            } else {
                put(top->I_PAYLOAD, word, HARNESS_I_BYTES);
                presenting = true;
            }
        }
        top->I_VALID = presenting;
#endif
        const bool ready = !rng.below(thr_out);
        top->O_READY = ready;
        tick();

        const bool valid = top->O_VALID;
        if (valid) get(top->O_PAYLOAD, now.data(), HARNESS_O_BYTES);
        if (waiting && (!valid || std::memcmp(now.data(), held.data(), HARNESS_O_BYTES) != 0)) {
            std::snprintf(protocol, sizeof protocol,
                          "o dropped or changed a waiting word at cycle %llu after %llu words",
                          static_cast<unsigned long long>(cycles), static_cast<unsigned long long>(produced));
            end = "protocol";
            break;
        }
        if (valid && ready) {
            std::memcpy(out.slot(), now.data(), HARNESS_O_BYTES);
            out.commit();
            ++produced;
            waiting = false;
        } else if (valid && !waiting) {
            held.swap(now);
            waiting = true;
        }

        bool accepted = false;
#if HARNESS_HAS_I
        if (presenting && !top->I_READY) ++refused;
        if (presenting && top->I_READY) {
            accepted = true;
            presenting = false;
            ++in.pos;
            if ((++consumed & kProgressMask) == 0) {
                std::fprintf(stderr, "progress %llu\n", static_cast<unsigned long long>(consumed));
            }
        }
#else
        if (valid && ready && (produced & kProgressMask) == 0) {
            std::fprintf(stderr, "progress %llu\n", static_cast<unsigned long long>(produced));
        }
#endif
        if (valid || accepted) {
            idle = 0;
        } else if (!harness_stall) {
            ++idle;
        }
        ++cycles;
        if (max_outputs && produced >= max_outputs) { end = "max_outputs"; break; }
        if (max_cycles && cycles >= max_cycles) { end = "max_cycles"; break; }
        if (idle >= drain) break;
    }

    out.flush();
    std::fclose(out_file);
    top->final();
    std::printf("{\"cycles\": %llu, \"consumed\": %llu, \"produced\": %llu, \"refused\": %llu, "
                "\"end\": \"%s\", \"protocol\": \"%s\", \"status\": {",
                static_cast<unsigned long long>(cycles), static_cast<unsigned long long>(consumed),
                static_cast<unsigned long long>(produced), static_cast<unsigned long long>(refused),
                end, protocol);
    HARNESS_STATUS(top);
    std::printf("}}\n");
    return 0;
}
