package certificate

import (
	"bytes"
	_ "embed"
	"fmt"
	"time"

	"github.com/go-pdf/fpdf"
)

// DejaVu Sans covers Latin, Greek and Cyrillic names; see fonts/LICENSE.
var (
	//go:embed fonts/DejaVuSans.ttf
	regularTTF []byte
	//go:embed fonts/DejaVuSans-Bold.ttf
	boldTTF []byte
)

// Render renders the certificate with its code as a one-page A4 landscape
// PDF. The same inputs give the same bytes.
func Render(c Certificate, code string) ([]byte, error) {
	pdf := fpdf.New("L", "mm", "A4", "")
	// Resources in a fixed order: the same certificate, the same bytes.
	pdf.SetCatalogSort(true)
	pdf.AddUTF8FontFromBytes("dejavu", "", regularTTF)
	pdf.AddUTF8FontFromBytes("dejavu", "B", boldTTF)
	issued := c.Issued.UTC()
	if issued.IsZero() {
		issued = time.Unix(0, 0).UTC()
	}
	pdf.SetCreationDate(issued)
	pdf.SetModificationDate(issued)
	pdf.SetProducer("accrue", false)
	pdf.SetCreator("accrue", false)
	title := c.Title
	if title == "" {
		title = "Certificate of achievement"
	}
	pdf.SetTitle(title+": "+c.RepName, true)
	pdf.SetAutoPageBreak(false, 0)
	pdf.AddPage()
	w, h := pdf.GetPageSize()

	// Frame.
	pdf.SetDrawColor(31, 78, 121)
	pdf.SetLineWidth(2.5)
	pdf.Rect(10, 10, w-20, h-20, "D")
	pdf.SetLineWidth(0.6)
	pdf.Rect(15, 15, w-30, h-30, "D")

	center := func(y float64, style string, size float64, r, g, b int, text string) {
		pdf.SetFont("dejavu", style, size)
		pdf.SetTextColor(r, g, b)
		pdf.SetXY(20, y)
		pdf.CellFormat(w-40, size*0.5, text, "", 0, "C", false, 0, "")
	}
	center(32, "B", 30, 31, 78, 121, title)
	center(52, "", 14, 60, 60, 60, "is presented to")
	center(66, "B", 34, 20, 20, 20, c.RepName)
	pdf.SetDrawColor(180, 150, 60)
	pdf.SetLineWidth(0.8)
	pdf.Line(w/2-70, 88, w/2+70, 88)
	center(96, "", 14, 60, 60, 60, "for earning the badge")
	badge := c.BadgeTitle
	if badge == "" {
		badge = c.Badge
	}
	center(108, "B", 24, 180, 120, 20, badge)
	program := c.Program
	if program == "" {
		program = c.ProgramID
	}
	center(128, "", 14, 40, 40, 40, fmt.Sprintf("%s · %s", program, c.Period))
	center(138, "", 12, 80, 80, 80, "Awarded on "+issued.Format("2 January 2006"))

	pdf.SetFont("dejavu", "", 10)
	pdf.SetTextColor(80, 80, 80)
	pdf.SetXY(20, h-42)
	pdf.CellFormat(w-40, 6, "Verification code", "", 0, "C", false, 0, "")
	pdf.SetFont("dejavu", "B", 16)
	pdf.SetTextColor(20, 20, 20)
	pdf.SetXY(20, h-35)
	pdf.CellFormat(w-40, 8, code, "", 0, "C", false, 0, "")
	if c.VerifyHint != "" {
		pdf.SetFont("dejavu", "", 9)
		pdf.SetTextColor(100, 100, 100)
		pdf.SetXY(20, h-26)
		pdf.CellFormat(w-40, 5, c.VerifyHint, "", 0, "C", false, 0, "")
	}
	var out bytes.Buffer
	if err := pdf.Output(&out); err != nil {
		return nil, fmt.Errorf("certificate: render: %w", err)
	}
	return out.Bytes(), nil
}
