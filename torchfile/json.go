package torchfile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"unicode/utf8"
)

// Limits of renderJSON: a pickle can build a structure that refers to
// itself, or a small one whose text is exponentially large, so both the
// depth and the output are bounded.
const (
	maxJSONDepth = 64
	maxJSONBytes = 1 << 20
)

// renderJSON writes a value as JSON: dicts (and Namespaces) as objects,
// lists, tuples and sets as arrays, numbers and text as themselves. What
// JSON cannot hold is written as a string: NaN and infinities ("nan",
// "inf", "-inf"), bytes (as text when valid UTF-8, else hex), classes
// ("module.name"), tensors ("tensor(float32, [3, 4])").
func renderJSON(v any) (string, error) {
	var b bytes.Buffer
	if err := writeJSON(&b, v, 0); err != nil {
		return "", err
	}
	return b.String(), nil
}

func writeJSON(b *bytes.Buffer, v any, depth int) error {
	if depth > maxJSONDepth {
		return fmt.Errorf("nested more than %d levels deep", maxJSONDepth)
	}
	if b.Len() > maxJSONBytes {
		return fmt.Errorf("more than %d bytes as JSON", maxJSONBytes)
	}
	str := func(s string) {
		js, _ := json.Marshal(s) // a string always marshals
		b.Write(js)
	}
	list := func(items []any) error {
		b.WriteByte('[')
		for i, x := range items {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeJSON(b, x, depth+1); err != nil {
				return err
			}
		}
		b.WriteByte(']')
		return nil
	}
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case *big.Int:
		b.WriteString(v.String())
	case float64:
		switch {
		case math.IsNaN(v):
			str("nan")
		case math.IsInf(v, 1):
			str("inf")
		case math.IsInf(v, -1):
			str("-inf")
		default:
			b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
		}
	case string:
		str(v)
	case pyBytes:
		if utf8.Valid(v) {
			str(string(v))
		} else {
			str(fmt.Sprintf("%x", []byte(v)))
		}
	case pyTuple:
		return list(v)
	case *pyList:
		return list(v.items)
	case *pySet:
		return list(v.items)
	case *pyDict:
		b.WriteByte('{')
		for i, k := range v.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			str(keyText(k))
			b.WriteByte(':')
			if err := writeJSON(b, v.vals[i], depth+1); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case *pyGlobal:
		str(v.String())
	case *tensorRef:
		str(fmt.Sprintf("tensor(%s, %v)", v.storage.dtype.torch, v.shape))
	case *storageRef:
		str(fmt.Sprintf("storage(%s, %d)", v.dtype.torch, v.numel))
	default:
		str(typeName(v))
	}
	return nil
}

// keyText is a dict key as a JSON object key.
func keyText(k any) string {
	switch k := k.(type) {
	case string:
		return k
	case int64:
		return strconv.FormatInt(k, 10)
	case bool:
		if k {
			return "True"
		}
		return "False"
	case nil:
		return "None"
	case float64:
		return strconv.FormatFloat(k, 'g', -1, 64)
	case *pyGlobal:
		return k.String()
	}
	return typeName(k)
}
