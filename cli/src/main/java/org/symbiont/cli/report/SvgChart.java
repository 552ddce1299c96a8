package org.symbiont.cli.report;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A grouped bar chart or a line chart as a standalone SVG 1.1 document: no scripts, no style
 * sheets, the generic sans-serif font. Axes have ticks at 1, 2 or 5 times a power of ten, or at
 * decades when logarithmic; series take their colours in turn from Okabe and Ito's
 * colour-blind-safe palette and are named in a legend; NaN values leave gaps (as do values at or
 * below 0 on a logarithmic axis). The same chart always gives the same bytes. Charts are
 * immutable: {@link #yFrom} and {@link #valueLabels} return changed copies.
 */
public final class SvgChart {
    /** Okabe and Ito's eight colours, yellow (faint on white) last; after eight series they repeat, lines dashed, bars paler. */
    private static final String[] PALETTE = {"#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442"};
    private static final double PLOT_W = 560, PLOT_H = 320, TOP = 48, TICK_LEN = 5, ROW = 20;
    private static final int TITLE_SIZE = 16, LABEL_SIZE = 13, TICK_SIZE = 11, LEGEND_SIZE = 12, VALUE_SIZE = 10;
    /** Lines with at most this many points mark each one; longer ones mark only points without a neighbour. */
    private static final int MARKED_POINTS = 40;
    /** Lines and markers show this far beyond the plot area, so that points on its edge show whole. */
    private static final double CLIP_MARGIN = 4;

    private enum Kind { BARS, LINES }

    private final Kind kind;
    private final String title, xLabel, yLabel;
    private final boolean logX, logY, valueLabels;
    private final List<String> groups, series;
    private final double[][] xs, ys;
    private final double yFrom;

    private SvgChart(Kind kind, String title, String xLabel, String yLabel, boolean logX, boolean logY, List<String> groups,
            List<String> series, double[][] xs, double[][] ys, double yFrom, boolean valueLabels) {
        this.kind = kind;
        this.title = title;
        this.xLabel = xLabel;
        this.yLabel = yLabel;
        this.logX = logX;
        this.logY = logY;
        this.groups = groups;
        this.series = series;
        this.xs = xs;
        this.ys = ys;
        this.yFrom = yFrom;
        this.valueLabels = valueLabels;
    }

    /** Bars for each series side by side within each group; {@code values[series][group]}. */
    public static SvgChart bars(String title, String yLabel, List<String> groups, List<String> series, double[][] values) {
        if (groups.isEmpty() || series.isEmpty()) throw new IllegalArgumentException("a bar chart needs at least one group and one series");
        check(series.size(), values.length, "series", "rows of values");
        for (double[] row : values) check(groups.size(), row.length, "groups", "values in a row");
        return new SvgChart(Kind.BARS, title, "", yLabel, false, false, List.copyOf(groups), List.copyOf(series), null, copy(values), Double.NaN, false);
    }

    /** The same bar chart on a logarithmic value axis: bars rise from the axis' start, values at or below 0 are skipped. */
    public SvgChart logValues() {
        if (kind != Kind.BARS) throw new IllegalStateException("logValues is for bar charts; line charts take logY");
        return new SvgChart(kind, title, xLabel, yLabel, logX, true, groups, series, xs, ys, yFrom, valueLabels);
    }

    /** A line per series through the points ({@code xs[s][i]}, {@code ys[s][i]}) in the order given. */
    public static SvgChart lines(String title, String xLabel, String yLabel, boolean logX, boolean logY, List<String> series, double[][] xs, double[][] ys) {
        if (series.isEmpty()) throw new IllegalArgumentException("a line chart needs at least one series");
        check(series.size(), xs.length, "series", "rows of x values");
        check(series.size(), ys.length, "series", "rows of y values");
        for (int s = 0; s < xs.length; s++) check(xs[s].length, ys[s].length, "x values", "y values of series " + series.get(s));
        return new SvgChart(Kind.LINES, title, xLabel, yLabel, logX, logY, List.of(), List.copyOf(series), copy(xs), copy(ys), Double.NaN, false);
    }

    /**
     * The same chart with its y axis starting at min (bars start at 0 otherwise, lines at a tick
     * below the data); bars reaching no higher are left flat, lines are cut at the edge.
     */
    public SvgChart yFrom(double min) {
        if (!Double.isFinite(min)) throw new IllegalArgumentException("the y axis cannot start at " + min);
        if (logY && !(min > 0)) throw new IllegalArgumentException("a logarithmic axis must start above 0, not at " + min);
        return new SvgChart(kind, title, xLabel, yLabel, logX, logY, groups, series, xs, ys, min, valueLabels);
    }

    /** The same bar chart with or without each bar's value printed at its end. */
    public SvgChart valueLabels(boolean show) {
        if (kind != Kind.BARS) throw new IllegalStateException("value labels are for bar charts");
        return new SvgChart(kind, title, xLabel, yLabel, logX, logY, groups, series, xs, ys, yFrom, show);
    }

    public String svg() {
        return kind == Kind.BARS ? barsSvg() : linesSvg();
    }

    /** Writes {@link #svg()} to file, UTF-8; creates the directory. */
    public void write(Path file) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        if (dir != null) Files.createDirectories(dir);
        Files.writeString(file, svg(), StandardCharsets.UTF_8);
    }

    /** Where the plot area lies and how big the whole picture is. */
    private record Frame(double left, double top, double width, double height, double totalWidth, double totalHeight) {
        double bottom() {
            return top + height;
        }

        double right() {
            return left + width;
        }
    }

    private String barsSvg() {
        double min = logY ? Double.NaN : 0, max = logY ? Double.NaN : 0;
        for (double[] row : ys) {
            for (double v : row) {
                if (drawable(v, logY)) {
                    min = Double.isNaN(min) ? v : Math.min(min, v);
                    max = Double.isNaN(max) ? v : Math.max(max, v);
                }
            }
        }
        Axis y = logY ? Axis.log(min, max, yFrom) : Axis.linear(min, max, !Double.isNaN(yFrom) ? yFrom : min >= 0 ? 0 : Double.NaN);
        double slot = PLOT_W / groups.size();
        double widest = groups.stream().mapToDouble(g -> textWidth(g, LABEL_SIZE)).max().orElse(0);
        boolean slanted = widest > slot - 4;
        double below = slanted ? TICK_LEN + 8 + widest * Math.sin(Math.toRadians(35)) + LABEL_SIZE : TICK_LEN + 8 + LABEL_SIZE + 8;
        double reach = 0;
        for (int g = 0; slanted && g < groups.size(); g++) {
            reach = Math.max(reach, textWidth(groups.get(g), LABEL_SIZE) * Math.cos(Math.toRadians(35)) - (g + 0.5) * slot + 8);
        }
        Frame f = frame(y, below, reach);
        StringBuilder b = open(f);
        yAxis(b, f, y);
        b.append("<g class=\"x-axis\" font-size=\"").append(LABEL_SIZE).append("\" text-anchor=\"").append(slanted ? "end" : "middle").append("\">\n");
        for (int g = 0; g < groups.size(); g++) {
            double cx = f.left() + (g + 0.5) * slot, ty = f.bottom() + TICK_LEN + 4 + LABEL_SIZE;
            b.append("<text x=\"").append(c(cx)).append("\" y=\"").append(c(ty)).append('"');
            if (slanted) b.append(" transform=\"rotate(-35 ").append(c(cx)).append(' ').append(c(ty)).append(")\"");
            b.append('>').append(escape(groups.get(g))).append("</text>\n");
        }
        b.append("</g>\n");
        double base = logY ? y.lo() : Math.clamp(0, y.lo(), y.hi()), baseY = py(f, y, base);
        double inner = slot * 0.8, barW = inner / series.size();
        b.append("<g class=\"bars\">\n");
        for (int s = 0; s < series.size(); s++) {
            b.append("<g fill=\"").append(colour(s)).append('"').append(s >= PALETTE.length ? " fill-opacity=\"0.55\"" : "").append(">\n");
            for (int g = 0; g < groups.size(); g++) {
                double v = ys[s][g];
                if (!drawable(v, logY)) continue;
                double x = f.left() + g * slot + (slot - inner) / 2 + s * barW, end = py(f, y, Math.clamp(v, y.lo(), y.hi()));
                b.append("<rect class=\"bar\" x=\"").append(c(x)).append("\" y=\"").append(c(Math.min(end, baseY)))
                        .append("\" width=\"").append(c(barW)).append("\" height=\"").append(c(Math.abs(end - baseY)))
                        .append("\"><title>").append(escape(series.get(s) + ", " + groups.get(g) + ": " + Numbers.readable(v))).append("</title></rect>\n");
            }
            b.append("</g>\n");
        }
        b.append("</g>\n");
        if (base > y.lo()) line(b, f.left(), baseY, f.right(), baseY, "#000000");
        if (valueLabels) {
            b.append("<g class=\"values\" font-size=\"").append(VALUE_SIZE).append("\" text-anchor=\"middle\">\n");
            for (int s = 0; s < series.size(); s++) {
                for (int g = 0; g < groups.size(); g++) {
                    double v = ys[s][g];
                    if (!drawable(v, logY)) continue;
                    double x = f.left() + g * slot + (slot - inner) / 2 + (s + 0.5) * barW, end = py(f, y, Math.clamp(v, y.lo(), y.hi()));
                    double ty = v >= base ? end - 3 : end + VALUE_SIZE + 1;
                    b.append("<text x=\"").append(c(x)).append("\" y=\"").append(c(ty)).append("\">").append(escape(Numbers.readable(v))).append("</text>\n");
                }
            }
            b.append("</g>\n");
        }
        legend(b, f, false);
        return b.append("</svg>\n").toString();
    }

    private String linesSvg() {
        double[] xr = range(xs, xs, ys, logX, logY), yr = range(ys, xs, ys, logX, logY);
        Axis x = logX ? Axis.log(xr[0], xr[1], Double.NaN) : Axis.linear(xr[0], xr[1], Double.NaN);
        Axis y = logY ? Axis.log(yr[0], yr[1], yFrom) : Axis.linear(yr[0], yr[1], yFrom);
        Frame f = frame(y, TICK_LEN + 4 + TICK_SIZE + 10 + LABEL_SIZE + 6, 0);
        StringBuilder b = open(f);
        yAxis(b, f, y);
        b.append("<g class=\"x-axis\" font-size=\"").append(TICK_SIZE).append("\" text-anchor=\"middle\">\n");
        for (Axis.Tick t : x.ticks()) {
            double px = f.left() + x.fraction(t.value()) * f.width();
            line(b, px, f.top(), px, f.bottom(), "#dddddd");
            line(b, px, f.bottom(), px, f.bottom() + TICK_LEN, "#000000");
            b.append("<text x=\"").append(c(px)).append("\" y=\"").append(c(f.bottom() + TICK_LEN + 4 + TICK_SIZE)).append("\">")
                    .append(escape(t.label())).append("</text>\n");
        }
        for (double v : x.minor()) {
            double px = f.left() + x.fraction(v) * f.width();
            line(b, px, f.top(), px, f.bottom(), "#f0f0f0");
            line(b, px, f.bottom(), px, f.bottom() + TICK_LEN / 2, "#000000");
        }
        b.append("</g>\n");
        b.append("<text class=\"x-label\" x=\"").append(c(f.left() + f.width() / 2)).append("\" y=\"").append(c(f.bottom() + TICK_LEN + 4 + TICK_SIZE + 10 + LABEL_SIZE))
                .append("\" font-size=\"").append(LABEL_SIZE).append("\" text-anchor=\"middle\">").append(escape(xLabel)).append("</text>\n");
        double m = CLIP_MARGIN;
        b.append("<defs><clipPath id=\"plot-area\"><rect x=\"").append(c(f.left() - m)).append("\" y=\"").append(c(f.top() - m)).append("\" width=\"")
                .append(c(f.width() + 2 * m)).append("\" height=\"").append(c(f.height() + 2 * m)).append("\"/></clipPath></defs>\n");
        b.append("<g class=\"lines\" clip-path=\"url(#plot-area)\">\n");
        for (int s = 0; s < series.size(); s++) {
            int n = xs[s].length;
            boolean[] ok = new boolean[n];
            int count = 0;
            for (int i = 0; i < n; i++) {
                ok[i] = drawable(xs[s][i], logX) && drawable(ys[s][i], logY);
                if (ok[i]) count++;
            }
            StringBuilder d = new StringBuilder(), marks = new StringBuilder();
            for (int i = 0; i < n; i++) {
                if (!ok[i]) continue;
                boolean joined = i > 0 && ok[i - 1];
                String px = c(f.left() + x.fraction(xs[s][i]) * f.width()), py = c(py(f, y, ys[s][i]));
                if (!d.isEmpty()) d.append(' ');
                d.append(joined ? 'L' : 'M').append(px).append(',').append(py);
                if (count <= MARKED_POINTS || !joined && !(i + 1 < n && ok[i + 1])) {
                    marks.append("<circle cx=\"").append(px).append("\" cy=\"").append(py).append("\" r=\"3\"/>\n");
                }
            }
            b.append("<path class=\"series\" d=\"").append(d).append("\" fill=\"none\" stroke=\"").append(colour(s)).append("\" stroke-width=\"2\"")
                    .append(dash(s)).append("><title>").append(escape(series.get(s))).append("</title></path>\n");
            if (!marks.isEmpty()) b.append("<g fill=\"").append(colour(s)).append("\">\n").append(marks).append("</g>\n");
        }
        b.append("</g>\n");
        legend(b, f, true);
        return b.append("</svg>\n").toString();
    }

    /** The smallest and largest of values over the points drawn (NaN, NaN if none). */
    private static double[] range(double[][] values, double[][] xs, double[][] ys, boolean logX, boolean logY) {
        double min = Double.NaN, max = Double.NaN;
        for (int s = 0; s < values.length; s++) {
            for (int i = 0; i < values[s].length; i++) {
                if (!drawable(xs[s][i], logX) || !drawable(ys[s][i], logY)) continue;
                double v = values[s][i];
                min = Double.isNaN(min) ? v : Math.min(min, v);
                max = Double.isNaN(max) ? v : Math.max(max, v);
            }
        }
        return new double[] {min, max};
    }

    private static boolean drawable(double v, boolean log) {
        return Double.isFinite(v) && (!log || v > 0);
    }

    /**
     * Lays out the picture: y tick labels and the y label left of the plot (which starts at least
     * {@code reach} pixels from the left edge), the legend right of it, {@code below} pixels under it.
     */
    private Frame frame(Axis y, double below, double reach) {
        double ticks = y.ticks().stream().mapToDouble(t -> textWidth(t.label(), TICK_SIZE)).max().orElse(0);
        double left = Math.max(12 + LABEL_SIZE + 10 + ticks + TICK_LEN + 4, reach);
        double legend = series.stream().mapToDouble(s -> textWidth(s, LEGEND_SIZE)).max().orElse(0) + 30;
        double width = left + PLOT_W + 24 + legend + 12;
        double height = Math.max(TOP + PLOT_H + below, TOP + series.size() * ROW) + 12;
        return new Frame(Math.ceil(left), TOP, PLOT_W, PLOT_H, Math.ceil(width), Math.ceil(height));
    }

    /** The document's start: the root element, a white background, the title. */
    private StringBuilder open(Frame f) {
        StringBuilder b = new StringBuilder("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        String w = c(f.totalWidth()), h = c(f.totalHeight());
        b.append("<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"").append(w).append("\" height=\"").append(h)
                .append("\" viewBox=\"0 0 ").append(w).append(' ').append(h).append("\" font-family=\"sans-serif\">\n");
        b.append("<title>").append(escape(title)).append("</title>\n");
        b.append("<rect class=\"background\" width=\"").append(w).append("\" height=\"").append(h).append("\" fill=\"#ffffff\"/>\n");
        b.append("<text class=\"title\" x=\"").append(c(f.totalWidth() / 2)).append("\" y=\"28\" font-size=\"").append(TITLE_SIZE)
                .append("\" font-weight=\"bold\" text-anchor=\"middle\">").append(escape(title)).append("</text>\n");
        return b;
    }

    /** Grid lines, ticks and labels of the y axis, the frame's left and bottom edges, and the rotated y label. */
    private void yAxis(StringBuilder b, Frame f, Axis y) {
        b.append("<g class=\"y-axis\" font-size=\"").append(TICK_SIZE).append("\" text-anchor=\"end\">\n");
        for (Axis.Tick t : y.ticks()) {
            double py = py(f, y, t.value());
            line(b, f.left(), py, f.right(), py, "#dddddd");
            line(b, f.left() - TICK_LEN, py, f.left(), py, "#000000");
            b.append("<text x=\"").append(c(f.left() - TICK_LEN - 4)).append("\" y=\"").append(c(py + TICK_SIZE * 0.35)).append("\">")
                    .append(escape(t.label())).append("</text>\n");
        }
        for (double v : y.minor()) {
            double py = py(f, y, v);
            line(b, f.left(), py, f.right(), py, "#f0f0f0");
            line(b, f.left() - TICK_LEN / 2, py, f.left(), py, "#000000");
        }
        line(b, f.left(), f.top(), f.left(), f.bottom(), "#000000");
        line(b, f.left(), f.bottom(), f.right(), f.bottom(), "#000000");
        b.append("</g>\n");
        double cx = 12 + LABEL_SIZE, cy = f.top() + f.height() / 2;
        b.append("<text class=\"y-label\" x=\"").append(c(cx)).append("\" y=\"").append(c(cy)).append("\" font-size=\"").append(LABEL_SIZE)
                .append("\" text-anchor=\"middle\" transform=\"rotate(-90 ").append(c(cx)).append(' ').append(c(cy)).append(")\">")
                .append(escape(yLabel)).append("</text>\n");
    }

    /** One entry per series right of the plot: a swatch (a square for bars, a stroke for lines) and the name. */
    private void legend(StringBuilder b, Frame f, boolean lines) {
        double x = f.right() + 24;
        b.append("<g class=\"legend\" font-size=\"").append(LEGEND_SIZE).append("\">\n");
        for (int s = 0; s < series.size(); s++) {
            double y = f.top() + s * ROW;
            if (lines) {
                b.append("<line x1=\"").append(c(x)).append("\" y1=\"").append(c(y + 6)).append("\" x2=\"").append(c(x + 20)).append("\" y2=\"")
                        .append(c(y + 6)).append("\" stroke=\"").append(colour(s)).append("\" stroke-width=\"2\"").append(dash(s)).append("/>\n");
            } else {
                b.append("<rect x=\"").append(c(x + 4)).append("\" y=\"").append(c(y)).append("\" width=\"12\" height=\"12\" fill=\"").append(colour(s))
                        .append('"').append(s >= PALETTE.length ? " fill-opacity=\"0.55\"" : "").append("/>\n");
            }
            b.append("<text x=\"").append(c(x + 28)).append("\" y=\"").append(c(y + 10)).append("\">").append(escape(series.get(s))).append("</text>\n");
        }
        b.append("</g>\n");
    }

    private static void line(StringBuilder b, double x1, double y1, double x2, double y2, String colour) {
        b.append("<line x1=\"").append(c(x1)).append("\" y1=\"").append(c(y1)).append("\" x2=\"").append(c(x2)).append("\" y2=\"").append(c(y2))
                .append("\" stroke=\"").append(colour).append("\"/>\n");
    }

    private static double py(Frame f, Axis y, double v) {
        return f.bottom() - y.fraction(v) * f.height();
    }

    private static String colour(int s) {
        return PALETTE[s % PALETTE.length];
    }

    private static String dash(int s) {
        return s >= PALETTE.length ? " stroke-dasharray=\"6 4\"" : "";
    }

    private static String c(double v) {
        return Numbers.coordinate(v);
    }

    /** A rough width of text in the generic sans-serif font. */
    private static double textWidth(String s, int size) {
        return s.codePointCount(0, s.length()) * size * 0.6;
    }

    /** Text safe in XML content and attributes: the five special characters as entities, characters XML forbids as U+FFFD. */
    private static String escape(String s) {
        StringBuilder b = new StringBuilder(s.length());
        s.codePoints().forEach(cp -> {
            switch (cp) {
                case '&' -> b.append("&amp;");
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '"' -> b.append("&quot;");
                case '\'' -> b.append("&apos;");
                default -> {
                    boolean legal = cp == 0x9 || cp == 0xA || cp == 0xD || cp >= 0x20 && cp <= 0xD7FF || cp >= 0xE000 && cp <= 0xFFFD || cp >= 0x10000;
                    b.appendCodePoint(legal ? cp : 0xFFFD);
                }
            }
        });
        return b.toString();
    }

    private static void check(int expected, int actual, String what, String of) {
        if (expected != actual) throw new IllegalArgumentException(actual + " " + of + " for " + expected + " " + what);
    }

    private static double[][] copy(double[][] a) {
        double[][] r = new double[a.length][];
        for (int i = 0; i < a.length; i++) r[i] = a[i].clone();
        return r;
    }
}
