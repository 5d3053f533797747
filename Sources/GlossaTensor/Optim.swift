#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Named trainable tensors, in a fixed order, with per-parameter freezing and optimizer groups.
public struct ParameterSet: Sendable {
    public private(set) var names: [String] = []
    public var tensors: [Tensor] = []
    /// Frozen parameters get no gradient and are never updated.
    public var frozen: [Bool] = []
    /// Index into the optimizer's groups.
    public var group: [Int] = []
    private var index: [String: Int] = [:]

    public init() {}

    public mutating func append(_ name: String, _ t: Tensor, group: Int = 0) {
        precondition(index[name] == nil, "duplicate parameter \(name)")
        index[name] = names.count
        names.append(name); tensors.append(t); frozen.append(false); self.group.append(group)
    }

    public var count: Int { names.count }
    public func indexOf(_ name: String) -> Int? { index[name] }
    public subscript(_ name: String) -> Tensor? {
        get { index[name].map { tensors[$0] } }
        set {
            guard let i = index[name], let newValue else { return }
            tensors[i] = newValue
        }
    }
    public var parameterCount: Int { tensors.reduce(0) { $0 + $1.count } }

    /// Freezes (or unfreezes) every parameter whose name satisfies `predicate`.
    public mutating func setFrozen(_ value: Bool, where predicate: (String) -> Bool) {
        for i in 0..<names.count where predicate(names[i]) { frozen[i] = value }
    }
}

/// Gradients aligned with a `ParameterSet` (nil = no gradient: frozen or unused).
public typealias Gradients = [Tensor?]

public enum GradientOps {
    /// Global L2 norm of all gradients.
    public static func globalNorm(_ grads: Gradients) -> Float {
        var s: Double = 0
        for g in grads {
            guard let g else { continue }
            // Fixed chunks per tensor, partial sums added in order: the same norm for any thread count.
            s += g.data.withUnsafeBufferPointer { p in
                Parallel.sum(p.count, grain: Grain.memory) { r in
                    var a = 0.0
                    for i in r { let v = Double(p[i]); a += v * v }
                    return a
                }
            }
        }
        return Float(s.squareRoot())
    }

    /// Scales all gradients so that their global norm is at most `maxNorm` (PyTorch `clip_grad_norm_`
    /// semantics: factor `maxNorm / (norm + 1e-6)` when below 1). Returns the norm before clipping.
    @discardableResult
    public static func clip(_ grads: inout Gradients, maxNorm: Float) -> Float {
        let norm = globalNorm(grads)
        let f = maxNorm / (norm + 1e-6)
        if f < 1 { scale(&grads, f) }
        return norm
    }

    public static func scale(_ grads: inout Gradients, _ f: Float) {
        for i in grads.indices where grads[i] != nil {
            grads[i]!.data.withUnsafeMutableBufferPointer { p in
                if let b = p.baseAddress { Kernels.scale(b, b, p.count, f) }
            }
        }
    }

    /// Gradient accumulation: `into += g` elementwise (nil treated as zeros).
    public static func accumulate(_ into: inout Gradients, _ g: Gradients) {
        if into.isEmpty { into = g; return }
        precondition(into.count == g.count)
        for i in g.indices {
            guard let gi = g[i] else { continue }
            if into[i] == nil { into[i] = gi; continue }
            into[i]!.data.withUnsafeMutableBufferPointer { d in
                gi.data.withUnsafeBufferPointer { s in
                    if let dp = d.baseAddress, let sp = s.baseAddress { Kernels.parallelAddInPlace(dp, sp, d.count) }
                }
            }
        }
    }
}

/// AdamW (decoupled weight decay, PyTorch semantics) with parameter groups.
public struct AdamW: Sendable {
    public struct Group: Sendable {
        public var weightDecay: Float
        /// Multiplies the scheduled learning rate for this group.
        public var lrScale: Float
        public init(weightDecay: Float, lrScale: Float = 1) { self.weightDecay = weightDecay; self.lrScale = lrScale }
    }

    public var beta1: Float, beta2: Float, eps: Float
    public var groups: [Group]
    public private(set) var step: Int = 0
    var m: [[Float]] = [], v: [[Float]] = []

    /// Group 0 decays with `weightDecay`; group 1 (norms, biases, by convention) has none.
    public init(beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8, weightDecay: Float = 0.01,
                groups: [Group]? = nil) {
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps
        self.groups = groups ?? [Group(weightDecay: weightDecay), Group(weightDecay: 0)]
    }

    /// One update with learning rate `lr`. Parameters without a gradient or frozen are untouched.
    public mutating func update(_ params: inout ParameterSet, grads: Gradients, lr: Float) {
        precondition(grads.count == params.count)
        if m.isEmpty {
            m = params.tensors.map { [Float](repeating: 0, count: $0.count) }
            v = m
        }
        step += 1
        let bc1 = 1 - powf(beta1, Float(step)), bc2 = 1 - powf(beta2, Float(step))
        let b1 = beta1, b2 = beta2, eps = self.eps
        for i in 0..<params.count {
            guard !params.frozen[i], let g = grads[i] else { continue }
            let grp = groups[params.group[i]]
            let lrI = lr * grp.lrScale
            let decay = 1 - lrI * grp.weightDecay
            let stepSize = lrI / bc1
            let invBc2Sqrt = 1 / bc2.squareRoot()
            params.tensors[i].data.withUnsafeMutableBufferPointer { p in
                m[i].withUnsafeMutableBufferPointer { pm in
                    v[i].withUnsafeMutableBufferPointer { pv in
                        g.data.withUnsafeBufferPointer { pg in
                            // Element-wise: chunks over the engine's threads give the same result.
                            Parallel.forRanges(p.count, grain: Grain.compute) { r in
                                for j in r {
                                    let gj = pg[j]
                                    let mj = b1 * pm[j] + (1 - b1) * gj
                                    let vj = b2 * pv[j] + (1 - b2) * gj * gj
                                    pm[j] = mj; pv[j] = vj
                                    p[j] = p[j] * decay - stepSize * mj / (vj.squareRoot() * invBc2Sqrt + eps)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Learning-rate schedules. `lr(at:)` takes the 0-based step about to be taken.
public enum LRSchedule: Sendable, Equatable {
    case constant(lr: Float)
    /// Linear warmup from 0 to `peak`, then cosine decay to `minLR` at `total` steps (constant after).
    case warmupCosine(peak: Float, minLR: Float, warmup: Int, total: Int)
    /// Continued pretraining: re-warm from `startLR` to `peak` over `warmup` steps, then cosine to `minLR`.
    case rewarmCosine(startLR: Float, peak: Float, minLR: Float, warmup: Int, total: Int)
    /// Linear warmup, then `peak · sqrt(warmup / step)` ("infinite" schedule without a fixed end).
    case inverseSqrt(peak: Float, warmup: Int)
    /// Infinite schedule: warmup, cosine cooldown to the constant `plateau` over `cooldown` steps, hold; an
    /// anneal (linear to `minLR` over `anneal` steps) starts at `annealStart` when given.
    case infinite(peak: Float, plateau: Float, minLR: Float, warmup: Int, cooldown: Int, annealStart: Int?, anneal: Int)
    /// Warmup-stable-decay: warmup, hold `peak` for `stable` steps, then decay to `minLR` over `decay`
    /// steps (linear, or "1−sqrt" when `sqrtDecay`).
    case warmupStableDecay(peak: Float, minLR: Float, warmup: Int, stable: Int, decay: Int, sqrtDecay: Bool)

    public func lr(at step: Int) -> Float {
        func warm(_ s: Int, _ w: Int, from a: Float, to b: Float) -> Float {
            w <= 0 ? b : a + (b - a) * Float(min(s + 1, w)) / Float(w)
        }
        func cosine(_ s: Int, _ n: Int, from a: Float, to b: Float) -> Float {
            if n <= 0 { return b }
            let p = min(1, max(0, Float(s) / Float(n)))
            return b + (a - b) * 0.5 * (1 + cosf(Float.pi * p))
        }
        switch self {
        case .constant(let lr): return lr
        case let .warmupCosine(peak, minLR, warmup, total):
            if step < warmup { return warm(step, warmup, from: 0, to: peak) }
            return cosine(step - warmup, total - warmup, from: peak, to: minLR)
        case let .rewarmCosine(startLR, peak, minLR, warmup, total):
            if step < warmup { return warm(step, warmup, from: startLR, to: peak) }
            return cosine(step - warmup, total - warmup, from: peak, to: minLR)
        case let .inverseSqrt(peak, warmup):
            if step < warmup { return warm(step, warmup, from: 0, to: peak) }
            return peak * (Float(max(warmup, 1)) / Float(max(step, 1))).squareRoot()
        case let .infinite(peak, plateau, minLR, warmup, cooldown, annealStart, anneal):
            if let a = annealStart, step >= a {
                let held = LRSchedule.infinite(peak: peak, plateau: plateau, minLR: minLR, warmup: warmup,
                                               cooldown: cooldown, annealStart: nil, anneal: 0).lr(at: a)
                if anneal <= 0 { return minLR }
                return held + (minLR - held) * min(1, Float(step - a + 1) / Float(anneal))
            }
            if step < warmup { return warm(step, warmup, from: 0, to: peak) }
            return cosine(step - warmup, cooldown, from: peak, to: plateau)
        case let .warmupStableDecay(peak, minLR, warmup, stable, decay, sqrtDecay):
            if step < warmup { return warm(step, warmup, from: 0, to: peak) }
            if step < warmup + stable { return peak }
            if decay <= 0 { return minLR }
            let p = min(1, Float(step - warmup - stable + 1) / Float(decay))
            let f = sqrtDecay ? 1 - p.squareRoot() : 1 - p
            return minLR + (peak - minLR) * f
        }
    }
}
