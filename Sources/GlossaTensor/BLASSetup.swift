#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Start-up handling of OpenBLAS kernel selection.
///
/// OpenBLAS picks its kernels when the library is loaded, so `OPENBLAS_CORETYPE` must already be in the
/// environment then. A program that finds a generic core on an AVX-512/AVX2 CPU re-executes itself once with
/// the variable set (`GLOSSA_BLAS_REEXEC=1` guards against loops); the same re-execution sets a short
/// `OPENBLAS_THREAD_TIMEOUT` (read only at load as well). Call `BLASSetup.ensureFastKernels()` first
/// thing in `main`/`run()`; tests never call it and never touch these variables.
public enum BLASSetup {
    /// Cores that Debian's DYNAMIC_ARCH build falls back to when it does not recognise the CPU.
    public static let genericCores: Set<String> = [
        "prescott", "katmai", "coppermine", "northwood", "banias", "core2", "penryn", "dunnington", "nehalem",
        "atom", "unknown", "generic",
    ]
    public static let guardVariable = "GLOSSA_BLAS_REEXEC"

    /// The core type to force, or nil when nothing should change. Pure: no environment access.
    public static func recommendedCoreType(cpuFlags: Set<String>, loadedCore: String,
                                           environment: [String: String]) -> String? {
        if environment["OPENBLAS_CORETYPE"] != nil || environment[guardVariable] != nil { return nil }
        guard genericCores.contains(loadedCore.lowercased()) else { return nil }
        if cpuFlags.contains("avx512f") && cpuFlags.contains("avx512bw") && cpuFlags.contains("avx512vl") {
            return cpuFlags.contains("avx512_bf16") ? "Cooperlake" : "SkylakeX"
        }
        if cpuFlags.contains("avx2") && cpuFlags.contains("fma") { return "Haswell" }
        return nil
    }

    /// How long (log2 of CPU cycles) OpenBLAS's idle workers spin in `sched_yield` before sleeping. The default
    /// (2^28 cycles, ≈ 0.1 s) keeps them spinning through the element-wise work between GEMMs, where they compete
    /// with the `Parallel` workers for the same cores: a 2-thread training step ran 15–20 % slower that way
    /// (idle machine, alternating runs). 2^4 puts them to sleep at once; waking one costs microseconds.
    public static let threadTimeout = "4"

    /// Variables to set before OpenBLAS loads, or empty when nothing should change. Pure: no environment access.
    /// A variable the user set is left alone.
    public static func recommendedEnvironment(cpuFlags: Set<String>, loadedCore: String,
                                              environment: [String: String]) -> [(name: String, value: String)] {
        if environment[guardVariable] != nil { return [] }
        var out: [(name: String, value: String)] = []
        if let core = recommendedCoreType(cpuFlags: cpuFlags, loadedCore: loadedCore, environment: environment) {
            out.append(("OPENBLAS_CORETYPE", core))
        }
        if environment["OPENBLAS_THREAD_TIMEOUT"] == nil { out.append(("OPENBLAS_THREAD_TIMEOUT", threadTimeout)) }
        return out
    }

    /// CPU feature flags from /proc/cpuinfo (empty where unavailable).
    public static func cpuFlags() -> Set<String> {
        guard let f = fopen("/proc/cpuinfo", "r") else { return [] }
        defer { fclose(f) }
        var line: UnsafeMutablePointer<CChar>?
        var cap = 0
        defer { free(line) }
        while getline(&line, &cap, f) > 0 {
            let s = String(cString: line!)
            if s.hasPrefix("flags") {
                guard let colon = s.firstIndex(of: ":") else { return [] }
                return Set(s[s.index(after: colon)...].split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" })
                    .map(String.init))
            }
        }
        return []
    }

    public enum Outcome: Sendable, Equatable {
        /// The loaded core is fine (or forced by the user); nothing done.
        case unchanged(core: String)
        /// The self-check failed on the forced core: results would be wrong.
        case failedSelfCheck(core: String, error: Double)
    }

    /// Re-executes the program with a better `OPENBLAS_CORETYPE` when OpenBLAS loaded a generic core on a CPU
    /// it does not recognise, and with a short `OPENBLAS_THREAD_TIMEOUT` (does not return in that case). Otherwise applies `threads` (if given), runs the
    /// sgemm self-check and reports the outcome.
    public static func ensureFastKernels(threads: Int? = nil) -> Outcome {
        var env: [String: String] = [:]
        for key in ["OPENBLAS_CORETYPE", "OPENBLAS_THREAD_TIMEOUT", guardVariable] {
            if let v = getenv(key) { env[key] = String(cString: v) }
        }
        let core = BLASRuntime.coreName
        let changes = recommendedEnvironment(cpuFlags: cpuFlags(), loadedCore: core, environment: env)
        if !changes.isEmpty {
            for (name, value) in changes { setenv(name, value, 1) }
            setenv(guardVariable, "1", 1)
            let args = CommandLine.arguments
            var cargs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) }
            cargs.append(nil)
            execv("/proc/self/exe", cargs)
            // exec failed: carry on with the slow core.
            for p in cargs { free(p) }
        }
        if let threads { BLAS.setThreadCount(threads) }
        let err = BLASRuntime.selfCheck()
        if !(err < 1e-5) { return .failedSelfCheck(core: core, error: err) }
        return .unchanged(core: core)
    }
}
