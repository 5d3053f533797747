/// A handle to a value recorded in a `Graph`.
public struct Var: Hashable, Sendable {
    public let id: Int
}

/// Reverse-mode automatic differentiation on a tape.
///
/// Every op runs eagerly, stores its result and (when any input needs a gradient) a closure that maps the
/// output gradient to input gradients. `backward(_:)` walks the tape in reverse. A graph is built per step
/// and thrown away; it is not shared between threads.
public final class Graph {
    public private(set) var values: [Tensor] = []
    var grads: [[Float]?] = []
    var requiresGrad: [Bool] = []
    var isLeaf: [Bool] = []
    var backwardFns: [((Graph, [Float]) -> Void)?] = []
    /// When false, dropout is the identity.
    public var isTraining: Bool
    /// Randomness for dropout.
    public var rng: RandomGenerator

    public init(training: Bool = true, seed: UInt64 = 0) {
        isTraining = training
        rng = RandomGenerator(seed: seed)
        _ = AllocatorTuning.configured
    }

    /// A value that never receives a gradient.
    public func constant(_ t: Tensor) -> Var { push(t, requires: false, leaf: true, nil) }

    /// A leaf that receives a gradient (a trainable parameter or an input to differentiate).
    public func parameter(_ t: Tensor) -> Var { push(t, requires: true, leaf: true, nil) }

    public subscript(_ v: Var) -> Tensor { values[v.id] }
    public func shape(_ v: Var) -> [Int] { values[v.id].shape }
    public func requiresGradient(_ v: Var) -> Bool { requiresGrad[v.id] }

    /// The gradient of the last `backward` loss with respect to `v` (nil if it does not depend on it).
    public func grad(_ v: Var) -> Tensor? {
        guard let g = grads[v.id] else { return nil }
        return Tensor(shape: values[v.id].shape, data: g)
    }

    /// Moves the gradient out of the graph (no copy).
    public func takeGrad(_ v: Var) -> Tensor? {
        guard let g = grads[v.id] else { return nil }
        grads[v.id] = nil
        return Tensor(shape: values[v.id].shape, data: g)
    }

    /// Back-propagates from `loss` (any shape; the seed gradient is all ones, or `seed` when given).
    public func backward(_ loss: Var, seed: Tensor? = nil) {
        grads[loss.id] = seed?.data ?? [Float](repeating: 1, count: values[loss.id].count)
        var i = loss.id
        while i >= 0 {
            if let fn = backwardFns[i], let g = grads[i] {
                fn(self, g)
                if !isLeaf[i] { grads[i] = nil }   // intermediate gradients are not kept
            }
            backwardFns[i] = nil
            i -= 1
        }
    }

    // MARK: recording

    @discardableResult
    func push(_ t: Tensor, requires: Bool, leaf: Bool, _ fn: ((Graph, [Float]) -> Void)?) -> Var {
        values.append(t)
        grads.append(nil)
        requiresGrad.append(requires)
        isLeaf.append(leaf)
        backwardFns.append(requires ? fn : nil)
        return Var(id: values.count - 1)
    }

    /// Records an op result; the backward closure is kept only if some input needs a gradient.
    func record(_ t: Tensor, _ inputs: [Var], _ fn: @escaping (Graph, [Float]) -> Void) -> Var {
        let r = inputs.contains { requiresGrad[$0.id] }
        return push(t, requires: r, leaf: false, fn)
    }

    /// Adds `g` into the gradient of `v` (moves it when `v` has none yet).
    func accumulate(_ v: Var, _ g: [Float]) {
        guard requiresGrad[v.id] else { return }
        precondition(g.count == values[v.id].count)
        if grads[v.id] == nil { grads[v.id] = g; return }
        grads[v.id]!.withUnsafeMutableBufferPointer { d in
            g.withUnsafeBufferPointer { s in
                if let dp = d.baseAddress, let sp = s.baseAddress { Kernels.parallelAddInPlace(dp, sp, d.count) }
            }
        }
    }

    func needs(_ v: Var) -> Bool { requiresGrad[v.id] }
}

// MARK: - Pointer helpers

@inline(__always)
func withRead<R>(_ a: [Float], _ body: (UnsafePointer<Float>) throws -> R) rethrows -> R {
    try a.withUnsafeBufferPointer { try body($0.baseAddress ?? UnsafePointer(bitPattern: 8)!) }
}

@inline(__always)
func makeArray(_ n: Int, _ body: (UnsafeMutablePointer<Float>) -> Void) -> [Float] {
    [Float](unsafeUninitializedCapacity: n) { buf, count in
        if n > 0 { body(buf.baseAddress!) }
        count = n
    }
}

@inline(__always)
func zerosArray(_ n: Int, _ body: (UnsafeMutablePointer<Float>) -> Void) -> [Float] {
    var a = [Float](repeating: 0, count: n)
    if n > 0 { a.withUnsafeMutableBufferPointer { body($0.baseAddress!) } }
    return a
}
