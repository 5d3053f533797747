import Testing
@testable import GlossaTensor

@Test func sgemmKernelAgreesWithReference() {
    let err = BLASRuntime.selfCheck()
    #expect(err < 1e-5, "OpenBLAS core \(BLASRuntime.coreName) gives relative error \(err)")
    #expect(!BLASRuntime.coreName.isEmpty)
}

/// Tokenizer commands stop OpenBLAS's idle workers; a later threaded sgemm must restart them and stay correct.
@Test func sgemmWorksAfterStoppingIdleThreads() {
    BLASRuntime.stopIdleThreads()
    BLASRuntime.stopIdleThreads()
    let err = BLASRuntime.selfCheck(m: 320, n: 288, k: 256)
    #expect(err < 1e-5)
    BLASRuntime.stopIdleThreads()
    #expect(BLASRuntime.selfCheck(m: 256, n: 256, k: 300) < 1e-5)
}
