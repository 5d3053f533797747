import Foundation

// A hand-written SVG chart: horizontal grouped bars, one group per text (language), one bar per series
// (tokenizer), a value axis with grid lines and a legend.

public struct BarChart: Sendable {
    public var title: String
    public var axisLabel: String
    public var groups: [String]
    public var series: [String]
    /// values[group][series]; nil draws no bar.
    public var values: [[Double?]]
    /// A vertical reference line (e.g. parity 1.0).
    public var reference: Double?

    public init(title: String, axisLabel: String, groups: [String], series: [String], values: [[Double?]], reference: Double? = nil) {
        self.title = title; self.axisLabel = axisLabel; self.groups = groups; self.series = series
        self.values = values; self.reference = reference
    }

    /// Rows of a statistics report as a chart of `metric`, groups sorted by the first tokenizer's value (largest first).
    public static func from(_ rows: [StatisticsRow], metric: ChartMetric, title: String? = nil) -> BarChart {
        var groups: [String] = []
        var series: [String] = []
        var v: [String: Double] = [:]
        for r in rows {
            if !groups.contains(r.text) { groups.append(r.text) }
            if !series.contains(r.tokenizer) { series.append(r.tokenizer) }
            if let x = metric.value(r) { v[r.text + "\u{0}" + r.tokenizer] = x }
        }
        if let first = series.first {
            groups.sort { (v[$0 + "\u{0}" + first] ?? 0) > (v[$1 + "\u{0}" + first] ?? 0) }
        }
        let values = groups.map { g in series.map { s in v[g + "\u{0}" + s] } }
        return BarChart(title: title ?? metric.title, axisLabel: metric.title, groups: groups, series: series, values: values,
                        reference: metric == .parity ? 1 : nil)
    }

    static let palette = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
                          "#9c755f", "#bab0ac", "#1f77b4", "#d62728"]

    static func esc(_ s: String) -> String {
        var o = ""
        for c in s {
            switch c {
            case "&": o += "&amp;"
            case "<": o += "&lt;"
            case ">": o += "&gt;"
            case "\"": o += "&quot;"
            default: o.append(c)
            }
        }
        return o
    }

    static func num(_ v: Double) -> String {
        let r = (v * 10).rounded() / 10
        return r == r.rounded() ? String(Int(r)) : String(r)
    }

    /// "Nice" tick step for a range up to `maxValue`.
    static func step(_ maxValue: Double) -> Double {
        let raw = maxValue / 8
        var p = 1.0
        while p * 10 <= raw { p *= 10 }
        while p > raw { p /= 10 }
        for m in [1.0, 2, 2.5, 5, 10] where p * m >= raw { return p * m }
        return p * 10
    }

    public func svg() -> String {
        let bar = 7.0, gap = 6.0
        let left = 120.0, right = 30.0, top = 56.0 + 16 * Double((series.count + 3) / 4), bottom = 40.0
        let plotW = 760.0
        let groupH = Double(max(1, series.count)) * bar + gap
        let height = top + Double(groups.count) * groupH + bottom
        let width = left + plotW + right
        let maxV = max(values.flatMap { $0.compactMap { $0 } }.max() ?? 1, reference ?? 0, 1e-9)
        let st = Self.step(maxV)
        let axisMax = (maxV / st).rounded(.up) * st
        func x(_ v: Double) -> Double { left + plotW * v / axisMax }
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"11\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(Int(left))\" y=\"20\" font-size=\"15\" font-weight=\"bold\">\(Self.esc(title))</text>\n"
        // Legend, four per row.
        for (i, name) in series.enumerated() {
            let lx = left + Double(i % 4) * 190, ly = 34 + Double(i / 4) * 16
            s += "<rect x=\"\(Int(lx))\" y=\"\(Int(ly))\" width=\"12\" height=\"10\" fill=\"\(Self.palette[i % Self.palette.count])\"/>"
            s += "<text x=\"\(Int(lx + 16))\" y=\"\(Int(ly + 9))\">\(Self.esc(name))</text>\n"
        }
        // Grid and ticks.
        var t = 0.0
        while t <= axisMax + st / 2 {
            let gx = x(t)
            s += "<line x1=\"\(f(gx))\" y1=\"\(Int(top - 4))\" x2=\"\(f(gx))\" y2=\"\(f(height - bottom))\" stroke=\"#ddd\"/>"
            s += "<text x=\"\(f(gx))\" y=\"\(f(height - bottom + 14))\" text-anchor=\"middle\">\(Self.num(t))</text>\n"
            t += st
        }
        s += "<text x=\"\(f(left + plotW / 2))\" y=\"\(f(height - 8))\" text-anchor=\"middle\">\(Self.esc(axisLabel))</text>\n"
        if let r = reference {
            s += "<line x1=\"\(f(x(r)))\" y1=\"\(Int(top - 4))\" x2=\"\(f(x(r)))\" y2=\"\(f(height - bottom))\" stroke=\"#333\" stroke-dasharray=\"4 3\"/>\n"
        }
        for (gi, g) in groups.enumerated() {
            let gy = top + Double(gi) * groupH
            s += "<text x=\"\(Int(left - 6))\" y=\"\(f(gy + (groupH - gap) / 2 + 4))\" text-anchor=\"end\">\(Self.esc(g))</text>\n"
            for (si, v) in values[gi].enumerated() {
                guard let v else { continue }
                let y = gy + Double(si) * bar
                s += "<rect x=\"\(Int(left))\" y=\"\(f(y))\" width=\"\(f(max(0.5, x(v) - left)))\" height=\"\(f(bar - 1))\" fill=\"\(Self.palette[si % Self.palette.count])\"><title>\(Self.esc(g)) · \(Self.esc(series[si])): \(String(format: "%.3f", v))</title></rect>\n"
            }
        }
        s += "<line x1=\"\(Int(left))\" y1=\"\(Int(top - 4))\" x2=\"\(Int(left))\" y2=\"\(f(height - bottom))\" stroke=\"#333\"/>\n"
        s += "</svg>\n"
        return s
    }

    func f(_ v: Double) -> String { String(format: "%.1f", v) }
}
