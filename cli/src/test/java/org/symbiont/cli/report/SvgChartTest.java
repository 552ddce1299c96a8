package org.symbiont.cli.report;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.xml.XMLConstants;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

class SvgChartTest {
    private static final String SVG = "http://www.w3.org/2000/svg";

    /** Parses without touching the network: no DTDs, no external entities. */
    private static Document parse(String svg) throws Exception {
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setNamespaceAware(true);
        f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
        f.setFeature("http://apache.org/xml/features/nonvalidating/load-external-dtd", false);
        f.setAttribute(XMLConstants.ACCESS_EXTERNAL_DTD, "");
        f.setAttribute(XMLConstants.ACCESS_EXTERNAL_SCHEMA, "");
        f.setExpandEntityReferences(false);
        Document d = f.newDocumentBuilder().parse(new ByteArrayInputStream(svg.getBytes(StandardCharsets.UTF_8)));
        assertEquals(SVG, d.getDocumentElement().getNamespaceURI());
        assertEquals("svg", d.getDocumentElement().getLocalName());
        assertEquals("1.1", d.getDocumentElement().getAttribute("version"));
        return d;
    }

    private static List<Element> elements(Document d, String name, String cls) {
        NodeList all = d.getElementsByTagNameNS(SVG, name);
        List<Element> r = new ArrayList<>();
        for (int i = 0; i < all.getLength(); i++) {
            Element e = (Element) all.item(i);
            if (cls == null || cls.equals(e.getAttribute("class"))) r.add(e);
        }
        return r;
    }

    private static List<String> texts(Element parent) {
        NodeList all = parent.getElementsByTagNameNS(SVG, "text");
        List<String> r = new ArrayList<>();
        for (int i = 0; i < all.getLength(); i++) r.add(all.item(i).getTextContent());
        return r;
    }

    private static SvgChart bars() {
        return SvgChart.bars("Paging <cost> & \"misses\"", "ns per access", List.of("4 KiB", "2 MiB", "1 GiB"), List.of("shadow", "nested <EPT>", "direct"),
                new double[][] {{120.5, 80, Double.NaN}, {150, 95.25, 60}, {Double.NaN, 70, 65}});
    }

    private static SvgChart lines() {
        return SvgChart.lines("Scaling", "vCPUs", "speed-up", true, false, List.of("ideal", "actors 'pinned'"),
                new double[][] {{1, 2, 4, 8, 16}, {1, 2, 4, 8, 16}}, new double[][] {{1, 2, 4, 8, 16}, {1, 1.9, Double.NaN, 6.5, 11.2}});
    }

    @Test
    void barsParseWithOneRectPerFiniteValueALegendAndEscapedLabels() throws Exception {
        String svg = bars().valueLabels(true).svg();
        Document d = parse(svg);
        assertEquals(7, elements(d, "rect", "bar").size(), "two of nine values are NaN");
        Element legend = elements(d, "g", "legend").getFirst();
        assertEquals(List.of("shadow", "nested <EPT>", "direct"), texts(legend));
        assertEquals(3, legend.getElementsByTagNameNS(SVG, "rect").getLength());
        assertEquals("Paging <cost> & \"misses\"", elements(d, "text", "title").getFirst().getTextContent());
        assertEquals("ns per access", elements(d, "text", "y-label").getFirst().getTextContent());
        assertEquals(List.of("4 KiB", "2 MiB", "1 GiB"), texts(elements(d, "g", "x-axis").getFirst()));
        assertEquals(List.of("120.5", "80", "150", "95.25", "60", "70", "65"), texts(elements(d, "g", "values").getFirst()));
        assertEquals(List.of("0", "20", "40", "60", "80", "100", "120", "140", "160"), texts(elements(d, "g", "y-axis").getFirst()));
        assertTrue(svg.contains("Paging &lt;cost&gt; &amp; &quot;misses&quot;"), svg);
        assertTrue(svg.contains("nested &lt;EPT&gt;"));
        assertFalse(bars().svg().contains("class=\"values\""), "value labels are optional");
    }

    @Test
    void seriesTakeDistinctColoursFromThePalette() throws Exception {
        Document d = parse(bars().svg());
        List<String> fills = elements(d, "rect", "bar").stream().map(e -> ((Element) e.getParentNode()).getAttribute("fill")).distinct().toList();
        assertEquals(List.of("#0072B2", "#E69F00", "#009E73"), fills);
    }

    @Test
    void barsCanStartAboveZero() throws Exception {
        Document d = parse(bars().yFrom(50).svg());
        assertEquals("60", texts(elements(d, "g", "y-axis").getFirst()).getFirst());
        assertEquals(7, elements(d, "rect", "bar").size());
    }

    @Test
    void barsOnALogarithmicAxisRiseFromItsStartAndSkipValuesAtOrBelowZero() throws Exception {
        SvgChart chart = SvgChart.bars("Slowdown", "virtual time / native", List.of("a", "b"), List.of("x", "y"),
                new double[][] {{1.5, 45}, {0, 3}}).yFrom(1).logValues();
        Document d = parse(chart.svg());
        assertEquals(3, elements(d, "rect", "bar").size(), "the 0 is not drawable on a log axis");
        assertEquals(List.of("1", "10", "100"), texts(elements(d, "g", "y-axis").getFirst()).stream().filter(t -> !t.isEmpty()).toList());
        assertThrows(IllegalStateException.class, () -> lines().logValues());
    }

    @Test
    void linesParseWithOnePathPerSeriesAGapForNaNAndDecadeTicks() throws Exception {
        Document d = parse(lines().svg());
        List<Element> paths = elements(d, "path", "series");
        assertEquals(2, paths.size());
        assertEquals(0, paths.get(0).getAttribute("d").split("M").length - 2, "the ideal line is one stroke");
        assertEquals(1, paths.get(1).getAttribute("d").split("M").length - 2, "NaN breaks the measured line in two");
        assertEquals(List.of("1", "10", "100"), texts(elements(d, "g", "x-axis").getFirst()));
        assertEquals("vCPUs", elements(d, "text", "x-label").getFirst().getTextContent());
        assertEquals(List.of("ideal", "actors 'pinned'"), texts(elements(d, "g", "legend").getFirst()));
        assertTrue(lines().svg().contains("actors &apos;pinned&apos;"));
    }

    @Test
    void logAxesSkipValuesThatAreNotPositive() throws Exception {
        SvgChart c = SvgChart.lines("t", "x", "y", false, true, List.of("s"), new double[][] {{1, 2, 3, 4}}, new double[][] {{10, 0, -5, 1000}});
        Document d = parse(c.svg());
        assertEquals(List.of("10", "100", "1,000"), texts(elements(d, "g", "y-axis").getFirst()));
        assertEquals(2, elements(d, "path", "series").getFirst().getAttribute("d").split("M").length - 1);
        assertThrows(IllegalArgumentException.class, () -> c.yFrom(0));
    }

    @Test
    void identicalInputGivesIdenticalBytesInAnyLocale(@TempDir Path dir) throws IOException {
        Locale old = Locale.getDefault();
        try {
            bars().valueLabels(true).write(dir.resolve("a.svg"));
            lines().write(dir.resolve("c.svg"));
            Locale.setDefault(Locale.GERMANY);
            bars().valueLabels(true).write(dir.resolve("b.svg"));
            lines().write(dir.resolve("d.svg"));
        } finally {
            Locale.setDefault(old);
        }
        assertArrayEquals(Files.readAllBytes(dir.resolve("a.svg")), Files.readAllBytes(dir.resolve("b.svg")));
        assertArrayEquals(Files.readAllBytes(dir.resolve("c.svg")), Files.readAllBytes(dir.resolve("d.svg")));
        assertFalse(Files.readString(dir.resolve("b.svg")).matches("(?s).*\\d,\\d+\"[^>]*>.*"), "no decimal commas in coordinates");
    }

    @Test
    void mismatchedShapesAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> SvgChart.bars("t", "y", List.of("a", "b"), List.of("s"), new double[][] {{1}}));
        assertThrows(IllegalArgumentException.class, () -> SvgChart.lines("t", "x", "y", false, false, List.of("s"), new double[][] {{1, 2}}, new double[][] {{1}}));
        assertThrows(IllegalStateException.class, () -> lines().valueLabels(true));
    }

    @Test
    void illegalXmlCharactersAreReplaced() throws Exception {
        String svg = SvgChart.bars("bell\u0007", "y", List.of("g"), List.of("s"), new double[][] {{1}}).svg();
        assertEquals("bell\uFFFD", elements(parse(svg), "text", "title").getFirst().getTextContent());
    }
}
