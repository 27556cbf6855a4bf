package safetensors

import "fmt"

// NewFile makes a File of tensors already in memory, such as those read
// from another format, so that they can be used wherever a file read by
// ReadFile is. The tensors are checked as Encode checks them (supported
// dtypes, data sizes that match the shapes, unique names, none called
// __metadata__), so the File could be written as it is. It keeps tensors
// and a copy of metadata (nil gives an empty map).
func NewFile(name string, tensors []Tensor, metadata map[string]string) (*File, error) {
	if _, err := encodeHeader(tensors, metadata); err != nil {
		return nil, fmt.Errorf("%w (%s)", err, name)
	}
	f := &File{Name: name, Tensors: tensors, Metadata: make(map[string]string, len(metadata)), index: make(map[string]int, len(tensors))}
	for k, v := range metadata {
		f.Metadata[k] = v
	}
	for i, t := range tensors {
		f.index[t.Name] = i
	}
	return f, nil
}
