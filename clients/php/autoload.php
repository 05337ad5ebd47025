<?php
/*  For applications without Composer: the package's PSR-4 autoloader
 *  (the namespace Fastpush\ is the directory src/, as composer.json says).
 *
 *      require '/path/to/fastpush-php/autoload.php';
 *      $pub = new Fastpush\HttpPublisher([...]);
 */
spl_autoload_register(function ($class) {
    $prefix = 'Fastpush\\';
    if (strncmp($class, $prefix, strlen($prefix)) !== 0)
        return;
    $file = __DIR__ . '/src/'
          . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
    if (is_file($file))
        require $file;
});
