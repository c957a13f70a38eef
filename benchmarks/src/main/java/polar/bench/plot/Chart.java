package polar.bench.plot;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.Stroke;
import java.awt.geom.AffineTransform;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.TreeSet;

/**
 * A line chart drawn into a rectangle of a {@link Graphics2D}: x on a log2 scale with a tick at
 * every x of the data (batch sizes, context lengths), y linear from 0, one polyline with markers
 * per series, and a legend. Small on purpose: just what the benchmark plots need.
 */
final class Chart {
    /** A named line; {@code dashed} for bounds rather than measurements. */
    record Series(String name, Color color, boolean dashed, List<double[]> points) {}

    private final String title, xLabel, yLabel;
    private final List<Series> series = new ArrayList<>();

    Chart(String title, String xLabel, String yLabel) {
        this.title = title;
        this.xLabel = xLabel;
        this.yLabel = yLabel;
    }

    Chart add(Series s) {
        if (!s.points().isEmpty()) series.add(s);
        return this;
    }

    boolean isEmpty() { return series.isEmpty(); }

    void draw(Graphics2D g, int x0, int y0, int width, int height) {
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        Font base = new Font(Font.SANS_SERIF, Font.PLAIN, 14);
        g.setFont(base.deriveFont(Font.BOLD, 16f));
        g.setColor(Color.BLACK);
        drawCentered(g, title, x0 + width / 2, y0 + 22);
        int left = x0 + 88, right = x0 + width - 20, top = y0 + 40, bottom = y0 + height - 58;

        TreeSet<Double> xs = new TreeSet<>();
        double yMax = 0;
        for (Series s : series) {
            for (double[] p : s.points()) {
                xs.add(p[0]);
                yMax = Math.max(yMax, p[1]);
            }
        }
        g.setFont(base);
        if (xs.isEmpty()) {
            drawCentered(g, "no data", (left + right) / 2, (top + bottom) / 2);
            return;
        }
        double step = niceStep(yMax / 5);
        double yTop = Math.ceil(yMax * 1.05 / step) * step;
        double lx0 = log2(xs.first()), lx1 = log2(xs.last());
        if (lx1 == lx0) {
            lx0 -= 1;
            lx1 += 1;
        }
        double fx0 = lx0, fx1 = lx1, fyTop = yTop;
        java.util.function.DoubleUnaryOperator px = x -> left + (log2(x) - fx0) / (fx1 - fx0) * (right - left);
        java.util.function.DoubleUnaryOperator py = y -> bottom - y / fyTop * (bottom - top);

        // grid and axes
        Stroke thin = new BasicStroke(1f);
        g.setStroke(thin);
        FontMetrics fm = g.getFontMetrics();
        for (double y = 0; y <= yTop + step / 2; y += step) {
            int yy = (int) Math.round(py.applyAsDouble(y));
            g.setColor(new Color(225, 225, 225));
            g.drawLine(left, yy, right, yy);
            g.setColor(Color.DARK_GRAY);
            String label = formatTick(y, step);
            g.drawString(label, left - 8 - fm.stringWidth(label), yy + fm.getAscent() / 2 - 2);
        }
        for (double x : xs) {
            int xx = (int) Math.round(px.applyAsDouble(x));
            g.setColor(new Color(235, 235, 235));
            g.drawLine(xx, top, xx, bottom);
            g.setColor(Color.DARK_GRAY);
            drawCentered(g, formatTick(x, 1), xx, bottom + 20);
        }
        g.setColor(Color.BLACK);
        g.drawLine(left, bottom, right, bottom);
        g.drawLine(left, top, left, bottom);
        drawCentered(g, xLabel, (left + right) / 2, bottom + 44);
        AffineTransform saved = g.getTransform();
        g.rotate(-Math.PI / 2, x0 + 16, (top + bottom) / 2.0);
        drawCentered(g, yLabel, x0 + 16, (top + bottom) / 2 + 5);
        g.setTransform(saved);

        // lines
        for (Series s : series) {
            g.setColor(s.color());
            g.setStroke(s.dashed() ? new BasicStroke(2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 1f, new float[] {7f, 5f}, 0f)
                    : new BasicStroke(2.5f));
            List<double[]> pts = s.points().stream().sorted((a, b) -> Double.compare(a[0], b[0])).toList();
            for (int i = 1; i < pts.size(); i++) {
                g.drawLine((int) px.applyAsDouble(pts.get(i - 1)[0]), (int) py.applyAsDouble(pts.get(i - 1)[1]),
                        (int) px.applyAsDouble(pts.get(i)[0]), (int) py.applyAsDouble(pts.get(i)[1]));
            }
            if (!s.dashed()) {
                for (double[] p : pts) g.fillOval((int) px.applyAsDouble(p[0]) - 4, (int) py.applyAsDouble(p[1]) - 4, 9, 9);
            }
        }

        // legend, top left inside the plot
        g.setStroke(thin);
        int lx = left + 12, ly = top + 8, lineH = fm.getHeight() + 2, legendW = 0;
        for (Series s : series) legendW = Math.max(legendW, fm.stringWidth(s.name()));
        g.setColor(new Color(255, 255, 255, 225));
        g.fillRect(lx - 6, ly - 4, legendW + 46, lineH * series.size() + 6);
        g.setColor(Color.GRAY);
        g.drawRect(lx - 6, ly - 4, legendW + 46, lineH * series.size() + 6);
        for (int i = 0; i < series.size(); i++) {
            Series s = series.get(i);
            int yy = ly + i * lineH + lineH / 2;
            g.setColor(s.color());
            g.setStroke(s.dashed() ? new BasicStroke(2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 1f, new float[] {7f, 5f}, 0f) : new BasicStroke(2.5f));
            g.drawLine(lx, yy, lx + 28, yy);
            g.setColor(Color.BLACK);
            g.drawString(s.name(), lx + 36, yy + fm.getAscent() / 2 - 2);
        }
    }

    private static void drawCentered(Graphics2D g, String s, int cx, int baseline) {
        g.drawString(s, cx - g.getFontMetrics().stringWidth(s) / 2, baseline);
    }

    private static double log2(double x) { return Math.log(x) / Math.log(2); }

    /** 1, 2 or 5 times a power of ten, at least {@code raw}. */
    static double niceStep(double raw) {
        if (raw <= 0) return 1;
        double p = Math.pow(10, Math.floor(Math.log10(raw)));
        for (double m : new double[] {1, 2, 5, 10}) if (m * p >= raw) return m * p;
        return 10 * p;
    }

    private static String formatTick(double v, double step) {
        if (step >= 1 && v == Math.rint(v)) return String.format(Locale.ROOT, "%,d", (long) v);
        int decimals = Math.max(0, (int) Math.ceil(-Math.log10(step)));
        return String.format(Locale.ROOT, "%." + decimals + "f", v);
    }
}
