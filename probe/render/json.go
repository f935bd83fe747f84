package render

import (
	"encoding/json"
	"fmt"
	"io"
)

// JSON writes v (a report) as one indented JSON document and a newline.
func JSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding JSON: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
