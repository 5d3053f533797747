import Foundation
import Testing
@testable import GlossaTensor

@Test func adamWMatchesReferenceFormula() {
    var ps = ParameterSet()
    ps.append("w", Tensor(shape: [3], data: [0.5, -1, 2]), group: 0)
    ps.append("norm", Tensor(shape: [2], data: [1, 1]), group: 1)
    ps.append("frozen", Tensor(shape: [1], data: [3]), group: 0)
    ps.setFrozen(true) { $0 == "frozen" }
    var opt = AdamW(beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1)
    // Reference (PyTorch AdamW) in float64.
    var w: [Double] = [0.5, -1, 2], m = [0.0, 0, 0], v = [0.0, 0, 0]
    let grads: [[Double]] = [[0.1, -0.2, 0.3], [1, -1, 0.5], [0.01, 0.02, -0.03]]
    for (step, gr) in grads.enumerated() {
        let lr = 0.01
        for i in 0..<3 {
            w[i] *= 1 - lr * 0.1
            m[i] = 0.9 * m[i] + 0.1 * gr[i]
            v[i] = 0.95 * v[i] + 0.05 * gr[i] * gr[i]
            let mh = m[i] / (1 - pow(0.9, Double(step + 1))), vh = v[i] / (1 - pow(0.95, Double(step + 1)))
            w[i] -= lr * mh / (vh.squareRoot() + 1e-8)
        }
        opt.update(&ps, grads: [Tensor(shape: [3], data: gr.map(Float.init)), Tensor(shape: [2], data: [1, 1]),
                                Tensor(shape: [1], data: [1])], lr: Float(lr))
    }
    for i in 0..<3 { #expect(abs(Double(ps.tensors[0].data[i]) - w[i]) < 1e-6) }
    // No decay in group 1: the update is exactly lr · m̂/(√v̂+eps) ≈ lr per step for a constant gradient.
    #expect(abs(ps.tensors[1].data[0] - (1 - 0.03)) < 1e-5)
    #expect(ps.tensors[2].data == [3])   // frozen
}

@Test func gradientClippingAndAccumulation() {
    var g: Gradients = [Tensor(shape: [2], data: [3, 0]), nil, Tensor(shape: [1], data: [4])]
    let n = GradientOps.clip(&g, maxNorm: 1)
    #expect(abs(n - 5) < 1e-6)
    #expect(abs(GradientOps.globalNorm(g) - 1) < 1e-5)
    var acc: Gradients = []
    GradientOps.accumulate(&acc, [Tensor(shape: [1], data: [1]), nil])
    GradientOps.accumulate(&acc, [Tensor(shape: [1], data: [2]), Tensor(shape: [1], data: [5])])
    #expect(acc[0]!.data == [3] && acc[1]!.data == [5])
}

@Test func learningRateSchedules() {
    let c = LRSchedule.warmupCosine(peak: 1, minLR: 0.1, warmup: 10, total: 110)
    #expect(abs(c.lr(at: 0) - 0.1) < 1e-6)
    #expect(abs(c.lr(at: 9) - 1) < 1e-6)
    #expect(abs(c.lr(at: 60) - 0.55) < 1e-5)
    #expect(abs(c.lr(at: 110) - 0.1) < 1e-6 && abs(c.lr(at: 500) - 0.1) < 1e-6)
    let r = LRSchedule.rewarmCosine(startLR: 0.2, peak: 1, minLR: 0, warmup: 4, total: 8)
    #expect(abs(r.lr(at: 0) - 0.4) < 1e-6 && abs(r.lr(at: 3) - 1) < 1e-6)
    let s = LRSchedule.inverseSqrt(peak: 1, warmup: 100)
    #expect(abs(s.lr(at: 400) - 0.5) < 1e-6)
    let w = LRSchedule.warmupStableDecay(peak: 1, minLR: 0, warmup: 2, stable: 5, decay: 4, sqrtDecay: false)
    #expect(w.lr(at: 3) == 1 && w.lr(at: 6) == 1)
    #expect(abs(w.lr(at: 8) - 0.5) < 1e-6 && w.lr(at: 10) == 0)
    let inf = LRSchedule.infinite(peak: 1, plateau: 0.3, minLR: 0, warmup: 2, cooldown: 10, annealStart: 50, anneal: 10)
    #expect(abs(inf.lr(at: 12) - 0.3) < 1e-6 && abs(inf.lr(at: 40) - 0.3) < 1e-6)
    #expect(abs(inf.lr(at: 54) - 0.15) < 1e-5 && inf.lr(at: 70) == 0)
    #expect(LRSchedule.constant(lr: 0.5).lr(at: 1000) == 0.5)
}

@Test func halfFloatConversions() {
    for v: Float in [0, -0, 1, -2.5, 65504, 6.1035156e-05, 5.9604645e-08, 0.1, 3.14159] {
        let h = HalfFloat.floatToF16(v)
        #expect(HalfFloat.f16ToFloat(h) == Float(Float16(v)))
        #expect(h == Float16(v).bitPattern)
    }
    #expect(HalfFloat.f16ToFloat(HalfFloat.floatToF16(1e6)) == .infinity)
    #expect(HalfFloat.f16ToFloat(HalfFloat.floatToF16(.nan)).isNaN)
    var rng = RandomGenerator(seed: 3)
    for _ in 0..<10000 {
        let v = (rng.nextFloat() - 0.5) * Float(1 << rng.nextInt(20)) / 64
        #expect(HalfFloat.floatToF16(v) == Float16(v).bitPattern)
    }
    #expect(HalfFloat.floatToBF16(1.0) == 0x3F80)
    #expect(HalfFloat.bf16ToFloat(HalfFloat.floatToBF16(1.00390625)) == 1.0)      // tie → even
    #expect(HalfFloat.bf16ToFloat(HalfFloat.floatToBF16(1.01171875)) == 1.015625) // tie → even (up)
    #expect(HalfFloat.bf16ToFloat(HalfFloat.floatToBF16(.nan)).isNaN)
}

@Test func lapackSVDCholeskyLeastSquares() throws {
    let a = randomTensor([5, 3], seed: 30)
    let (u, s, vt) = try Linalg.svd(a)
    #expect(u.shape == [5, 3] && vt.shape == [3, 3] && s.count == 3)
    #expect(s[0] >= s[1] && s[1] >= s[2])
    var us = u
    for i in 0..<5 { for j in 0..<3 { us.data[i * 3 + j] *= s[j] } }
    #expect(Linalg.matmul(us, vt).maxAbsDifference(a) < 1e-5)
    let wide = randomTensor([2, 4], seed: 31)
    let (u2, s2, vt2) = try Linalg.svd(wide)
    var us2 = u2
    for i in 0..<2 { for j in 0..<2 { us2.data[i * 2 + j] *= s2[j] } }
    #expect(Linalg.matmul(us2, vt2).maxAbsDifference(wide) < 1e-5)

    // SPD: AᵀA + I
    var spd = Linalg.matmul(a.transposed2D(), a)
    for i in 0..<3 { spd.data[i * 3 + i] += 1 }
    let l = try Linalg.cholesky(spd)
    #expect(l.data[1] == 0 && l.data[2] == 0 && l.data[5] == 0)
    #expect(Linalg.matmul(l, l, transB: true).maxAbsDifference(spd) < 1e-5)
    #expect(throws: Linalg.Failure.self) { try Linalg.cholesky(Tensor(shape: [2, 2], data: [1, 2, 2, 1])) }

    let xTrue = randomTensor([3, 2], seed: 32)
    let b = Linalg.matmul(a, xTrue)
    #expect(try Linalg.leastSquares(a, b).maxAbsDifference(xTrue) < 1e-4)
}

@Test func coreTypeDecisionIsPure() {
    let spr: Set<String> = ["avx512f", "avx512bw", "avx512vl", "avx512_bf16", "avx2", "fma"]
    #expect(BLASSetup.recommendedCoreType(cpuFlags: spr, loadedCore: "Prescott", environment: [:]) == "Cooperlake")
    #expect(BLASSetup.recommendedCoreType(cpuFlags: spr.subtracting(["avx512_bf16"]), loadedCore: "Prescott", environment: [:]) == "SkylakeX")
    #expect(BLASSetup.recommendedCoreType(cpuFlags: ["avx2", "fma"], loadedCore: "Prescott", environment: [:]) == "Haswell")
    #expect(BLASSetup.recommendedCoreType(cpuFlags: spr, loadedCore: "SkylakeX", environment: [:]) == nil)
    #expect(BLASSetup.recommendedCoreType(cpuFlags: spr, loadedCore: "Prescott", environment: ["OPENBLAS_CORETYPE": "Prescott"]) == nil)
    #expect(BLASSetup.recommendedCoreType(cpuFlags: spr, loadedCore: "Prescott", environment: ["GLOSSA_BLAS_REEXEC": "1"]) == nil)
    #expect(BLASSetup.recommendedCoreType(cpuFlags: ["sse3"], loadedCore: "Prescott", environment: [:]) == nil)
    func names(_ e: [String: String], core: String = "Prescott") -> [String] {
        BLASSetup.recommendedEnvironment(cpuFlags: spr, loadedCore: core, environment: e).map { "\($0.name)=\($0.value)" }
    }
    #expect(names([:]) == ["OPENBLAS_CORETYPE=Cooperlake", "OPENBLAS_THREAD_TIMEOUT=4"])
    #expect(names([:], core: "SkylakeX") == ["OPENBLAS_THREAD_TIMEOUT=4"])
    #expect(names(["OPENBLAS_THREAD_TIMEOUT": "28"]) == ["OPENBLAS_CORETYPE=Cooperlake"])
    #expect(names(["OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_THREAD_TIMEOUT": "10"]).isEmpty)
    #expect(names(["GLOSSA_BLAS_REEXEC": "1"]).isEmpty)
}
