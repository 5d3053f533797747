import Testing
@testable import GlossaTensor

@Test func sgemmKernelAgreesWithReference() {
    let err = BLASRuntime.selfCheck()
    #expect(err < 1e-5, "OpenBLAS core \(BLASRuntime.coreName) gives relative error \(err)")
    #expect(!BLASRuntime.coreName.isEmpty)
}
